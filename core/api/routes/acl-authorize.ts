import type { Hono } from 'hono';
import { enforce } from '../../acl/enforce.js';
import { AclDisabledError, BadRequestError } from '../../errors.js';
import { identityOf } from '../authz.js';
import { readBody } from '../body.js';
import type { ApiDeps } from '../context.js';
import { checkDatacenter } from '../query.js';
import { route } from '../registry.js';
import { jsonResponse } from '../respond.js';

/** Most authorizations one request may ask for (Consul's maxRequests). */
export const MAX_AUTHORIZATIONS = 64;

/** Largest request body: 64 questions with segments as long as keys get, and room to spare. */
const MAX_AUTHORIZE_BODY = 256 * 1024;

/** One question: may the request's token have `Access` on `Segment` of `Resource`? */
interface AuthorizationRequest {
  readonly Resource: string;
  /** Omitted from the answer when empty (Consul's `json:",omitempty"`). */
  readonly Segment: string;
  readonly Access: string;
}

const decodeFailed = (why: string): BadRequestError => new BadRequestError(`Failed to decode request body: ${why}`);

/**
 * A field of a decoded JSON object as Go's encoding/json finds it: the exact name, else a name
 * that differs only in case. A missing field or null is "", any other non-string a decode error.
 */
function stringField(item: Record<string, unknown>, name: string, at: number): string {
  const key = Object.hasOwn(item, name) ? name : Object.keys(item).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : item[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw decodeFailed(`item ${at}: ${name} must be a string`);
  return v;
}

/**
 * The questions of a body: a JSON array of `{Resource, Segment, Access}` objects (unknown fields
 * ignored; `null` for the whole body or for an item reads as empty, as Go decodes it). Throws
 * BadRequestError `Failed to decode request body: …` for anything else.
 */
function parseRequests(bytes: Uint8Array): AuthorizationRequest[] {
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === '') throw decodeFailed('the body is empty');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw decodeFailed('the body is not valid JSON');
  }
  if (doc === null) return [];
  if (!Array.isArray(doc)) throw decodeFailed('expected a JSON array of {Resource, Segment, Access}');
  return doc.map((item: unknown, at) => {
    if (item === null) return { Resource: '', Segment: '', Access: '' };
    if (typeof item !== 'object' || Array.isArray(item))
      throw decodeFailed(`item ${at}: expected an object with Resource, Segment and Access`);
    const obj = item as Record<string, unknown>;
    return {
      Resource: stringField(obj, 'Resource', at),
      Segment: stringField(obj, 'Segment', at),
      Access: stringField(obj, 'Access', at),
    };
  });
}

/**
 * Registers POST /v1/internal/acl/authorize, the endpoint Consul's Web UI asks what its token may
 * do (Consul's ACLAuthorize). The body is a JSON array of `{Resource, Segment?, Access}`; the
 * answer the same objects, in order, each with `Allow` (true or false) for the request's token,
 * decided as the other routes decide (core/acl/enforce.ts). Every token may ask about itself (no
 * permission is needed). Errors, in the order they are checked: 401 `ACL support disabled` while
 * ACLs are off (as every /v1/acl/* route); 400 `Failed to decode request body: …`; 400 `Refusing
 * to process more than 64 authorizations at once`; an empty array answers `[]` whatever the token;
 * 500 `No path to datacenter` for another `?dc`; 403 `ACL not found` for an unknown token; 400
 * `Invalid ACL resource requested: "<r>"` or `Invalid access level for <r> resource: <a>` at the
 * first question that has one (nothing is answered then). 413 for a body over 256 KiB.
 */
export function registerAclAuthorizeRoute(app: Hono, deps: ApiDeps): void {
  route(app, 'POST', '/v1/internal/acl/authorize', async (c) => {
    if (!deps.acl.settings.enabled) throw new AclDisabledError();
    const requests = parseRequests(await readBody(c.req.raw, MAX_AUTHORIZE_BODY, deps.bodyReader));
    if (requests.length > MAX_AUTHORIZATIONS)
      throw new BadRequestError(`Refusing to process more than ${MAX_AUTHORIZATIONS} authorizations at once`);
    if (requests.length === 0) return jsonResponse('[]');
    checkDatacenter(new URL(c.req.url), deps);
    const { authz } = identityOf(deps, c.req.raw);
    const answers = requests.map((r) => ({
      Resource: r.Resource,
      ...(r.Segment !== '' ? { Segment: r.Segment } : {}),
      Access: r.Access,
      Allow: enforce(authz, r.Resource, r.Segment, r.Access),
    }));
    return jsonResponse(JSON.stringify(answers));
  });
}
