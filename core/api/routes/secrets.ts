import { route } from '../registry.js';
import type { Hono } from 'hono';
import { BadRequestError, ConflictError, KonsulError } from '../../errors.js';
import { type KvUseKeyCommand, sealedKeyUsage } from '../../kv/sealed.js';
import type { SecretsAdminPort } from '../../sealing/admin.js';
import { parseKeyId } from '../../secrets/envelope.js';
import { keyIdOf, parseKeyMaterial } from '../../secrets/keyring.js';
import { readBody } from '../body.js';
import type { ServerApiDeps } from '../context.js';
import { checkDatacenter } from '../query.js';
import { jsonResponse } from '../respond.js';

/** Largest body of a keyring request. */
const MAX_KEYRING_BODY = 4096;

/** The message of every keyring route on a server started without --encrypt-key-file. */
export const SECRETS_DISABLED_MESSAGE = 'Encrypted values are not configured on this server (--encrypt-key-file)';

async function bodyField(deps: ServerApiDeps, req: Request, name: 'Key' | 'KeyID'): Promise<unknown> {
  const text = new TextDecoder().decode(await readBody(req, MAX_KEYRING_BODY, deps.bodyReader));
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequestError('Request body is not valid JSON');
  }
  if (body === null || typeof body !== 'object') throw new BadRequestError(`Request body must be {"${name}": ...}`);
  return (body as Record<string, unknown>)[name];
}

async function keyIdFromBody(deps: ServerApiDeps, req: Request): Promise<string> {
  const raw = await bodyField(deps, req, 'KeyID');
  const id = typeof raw === 'string' ? parseKeyId(raw) : undefined;
  if (id === undefined) throw new BadRequestError('Invalid KeyID: 16 hex digits (konsul secrets keyring list)');
  return id;
}

function requireAdmin(admin: SecretsAdminPort | undefined): SecretsAdminPort {
  if (!admin || admin.secrets.keyring === undefined) throw new BadRequestError(SECRETS_DISABLED_MESSAGE);
  return admin;
}

/** The keyring as this server sees it: its keys, the replicated counts, the primary. */
function keyringView(deps: ServerApiDeps, admin: SecretsAdminPort | undefined): unknown {
  const usage = deps.store.read(sealedKeyUsage);
  const ring = admin?.secrets.keyring;
  const primary = admin?.secrets.primary() ?? '';
  const ids = [...new Set([...(ring?.ids ?? []), ...usage.keys()])];
  return {
    Server: deps.node.name,
    Primary: primary,
    Prefixes: admin?.secrets.prefixes ?? [],
    Keys: ids.map((id) => ({
      ID: id,
      Installed: ring?.has(id) ?? false,
      Primary: id === primary,
      Values: usage.get(id) ?? 0,
    })),
  };
}

/**
 * Registers the encrypted-values operator API (a Konsul extension; operator:read for GET,
 * operator:write otherwise):
 * - GET /v1/operator/secrets/keyring: this server's keys by id, which is primary, values per key.
 * - POST /v1/operator/secrets/keyring `{"Key": "<base64>"}`: installs a key on this server (its
 *   key file); run it against every server.
 * - PUT /v1/operator/secrets/keyring `{"KeyID": "<id>"}`: makes an installed key the primary for the
 *   cluster (a replicated decision, answered by the leader); the leader then re-encrypts.
 * - DELETE /v1/operator/secrets/keyring `{"KeyID": "<id>"}`: removes a key from this server's key
 *   file; 409 while it is the primary or any value is sealed with it.
 * - GET /v1/operator/secrets/rotation: the leader's re-encryption progress.
 * - PUT /v1/operator/secrets/rotation: starts a pass now, also sealing plaintext values under the
 *   encrypted prefixes.
 * Without --encrypt-key-file every write answers 400 SECRETS_DISABLED_MESSAGE.
 */
export function registerSecretsRoutes(app: Hono, deps: ServerApiDeps, admin: SecretsAdminPort | undefined): void {
  const path = '/v1/operator/secrets/keyring';
  route(app, 'GET', path, (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    return jsonResponse(JSON.stringify(keyringView(deps, admin)));
  });
  route(app, 'POST', path, async (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const a = requireAdmin(admin);
    let material: Uint8Array;
    try {
      material = parseKeyMaterial(await bodyField(deps, c.req.raw, 'Key'), 'Key');
    } catch (err) {
      if (err instanceof KonsulError && err.code === 'config') throw new BadRequestError(err.message);
      throw err;
    }
    const id = await a.install(material);
    material.fill(0);
    return jsonResponse(JSON.stringify({ Server: deps.node.name, KeyID: id }));
  });
  route(app, 'PUT', path, async (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const a = requireAdmin(admin);
    const id = await keyIdFromBody(deps, c.req.raw);
    if (!a.secrets.keyring?.has(id))
      throw new BadRequestError(`Key ${id} is not installed on ${deps.node.name}: install it on every server first`);
    const command: KvUseKeyCommand = { type: 'kv.use-key', keyId: id };
    const { index } = await deps.writer.submit<boolean>(command);
    a.requestPass(false);
    return jsonResponse(JSON.stringify({ Primary: id, Index: index }));
  });
  route(app, 'DELETE', path, async (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const a = requireAdmin(admin);
    const id = await keyIdFromBody(deps, c.req.raw);
    if (id === a.secrets.primary()) throw new ConflictError(`Key ${id} is the primary: use another key first`);
    const values = deps.store.read(sealedKeyUsage).get(id) ?? 0;
    if (values > 0)
      throw new ConflictError(
        `Key ${id} still encrypts ${values} values: wait for the rotation to finish (konsul secrets keyring list)`,
      );
    if (!a.secrets.keyring?.has(id)) throw new BadRequestError(`Key ${id} is not installed on ${deps.node.name}`);
    await a.remove(id);
    return jsonResponse(JSON.stringify({ Server: deps.node.name, KeyID: id }));
  });
  route(app, 'GET', '/v1/operator/secrets/rotation', (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const a = requireAdmin(admin);
    return jsonResponse(JSON.stringify({ Server: deps.node.name, ...a.rotationStatus() }));
  });
  route(app, 'PUT', '/v1/operator/secrets/rotation', (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const a = requireAdmin(admin);
    a.requestPass(true);
    return jsonResponse(JSON.stringify({ Server: deps.node.name, ...a.rotationStatus() }));
  });
}

/** The id of a key given as base64 material (what `keyring use|remove <key>` accept besides ids). */
export function keyIdOfText(text: string): string | undefined {
  const id = parseKeyId(text);
  if (id !== undefined) return id;
  try {
    return keyIdOf(parseKeyMaterial(text, 'key'));
  } catch {
    return undefined;
  }
}
