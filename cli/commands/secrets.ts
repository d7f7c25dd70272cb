import type { Command } from 'commander';
import { keyIdOfText } from '../../core/api/routes/secrets.js';
import { encodeBase64 } from '../../core/util/base64.js';
import { CliError } from '../client/errors.js';
import { json, table } from '../client/output.js';
import { type ClientCommand, formatFlag, formatOf, type LocalCommand } from './common.js';

/** GET /v1/operator/secrets/keyring as a server answers it. */
interface KeyringView {
  Server: string;
  Primary: string;
  Prefixes: string[];
  Keys: { ID: string; Installed: boolean; Primary: boolean; Values: number }[];
}

/** GET /v1/operator/secrets/rotation (the leader's job). */
interface RotationView {
  Server: string;
  Primary: string;
  Remaining: number;
  Running: boolean;
  Passes: number;
  Resealed: number;
  Sealed: number;
  LastPassValuesPerSecond: number;
  LastError: string;
}

/** 32 random bytes in padded base64, as `consul keygen` prints (crypto.getRandomValues). */
export function newKeyText(): string {
  return encodeBase64(globalThis.crypto.getRandomValues(new Uint8Array(32)));
}

/** The key id a `use` or `remove` argument names: an id (16 hex digits) or the key itself. */
function keyIdArg(text: string): string {
  const id = keyIdOfText(text.trim());
  if (id === undefined) throw new CliError('give a key id (16 hex digits, see keyring list) or the base64 key', 2);
  return id;
}

/**
 * Registers `keygen` (a new 32-byte key, as Consul's) and `secrets keyring list|install|use|remove`
 * and `secrets rotation [--start]` over the encrypted-values operator API (docs/SECRETS.md).
 * Not `keyring`: that name is Consul's gossip keyring.
 */
export function registerSecretsCommands(program: Command, client: ClientCommand, local: LocalCommand): void {
  local(
    program
      .command('keygen')
      .description('print a new 32-byte key in base64 (for --encrypt-key-file; as consul keygen)'),
    async (io) => {
      io.out(`${newKeyText()}\n`);
      return 0;
    },
  );
  const secrets = program.command('secrets').description('encrypted KV values at rest: keys and re-encryption');
  const keyring = secrets
    .command('keyring')
    .description("the servers' keys for encrypted values (not Consul's gossip keyring)");

  client(
    formatFlag(keyring.command('list').description("the server's keys by id, the primary, and values per key")),
    async (c, io, o: { format?: string }) => {
      const view = await c.json<KeyringView>('GET', '/v1/operator/secrets/keyring');
      if (formatOf(o) === 'json') {
        io.out(json(view));
        return 0;
      }
      io.out(`Server ${view.Server}; encrypted prefixes: ${view.Prefixes.length ? view.Prefixes.join(', ') : 'all'}\n`);
      const rows = view.Keys.map((k) => [
        k.ID,
        k.Primary ? 'primary' : '',
        k.Installed ? 'installed' : 'MISSING',
        String(k.Values),
      ]);
      io.out(table(['Key ID', 'Role', 'Here', 'Values'], rows));
      return 0;
    },
  );
  client(
    keyring
      .command('install')
      .description('add a key to the key file of the server asked (run it against every server)')
      .argument('<key>', 'the base64 key (konsul keygen), or - to read it from stdin'),
    async (c, io, key: string) => {
      const text = key === '-' ? (await io.stdin()).toString('utf8').trim() : key.trim();
      const r = await c.json<{ Server: string; KeyID: string }>('POST', '/v1/operator/secrets/keyring', {
        body: JSON.stringify({ Key: text }),
      });
      io.out(`==> Installed key ${r.KeyID} on ${r.Server}\n`);
      return 0;
    },
  );
  client(
    keyring
      .command('use')
      .description('make an installed key the primary for the cluster; values are then re-encrypted')
      .argument('<key>', 'the key id or the base64 key'),
    async (c, io, key: string) => {
      const id = keyIdArg(key);
      await c.json('PUT', '/v1/operator/secrets/keyring', { body: JSON.stringify({ KeyID: id }) });
      io.out(`==> Key ${id} is the primary; re-encryption runs on the leader (konsul secrets rotation)\n`);
      return 0;
    },
  );
  client(
    keyring
      .command('remove')
      .description('remove a key from the key file of the server asked; refused while values use it')
      .argument('<key>', 'the key id or the base64 key'),
    async (c, io, key: string) => {
      const id = keyIdArg(key);
      const r = await c.json<{ Server: string }>('DELETE', '/v1/operator/secrets/keyring', {
        body: JSON.stringify({ KeyID: id }),
      });
      io.out(`==> Removed key ${id} from ${r.Server}\n`);
      return 0;
    },
  );
  client(
    formatFlag(
      secrets
        .command('rotation')
        .description("the leader's re-encryption progress")
        .option('--start', 'start a pass now, also encrypting plaintext values under the encrypted prefixes'),
    ),
    async (c, io, o: { format?: string; start?: boolean }) => {
      const view = await c.json<RotationView>(o.start ? 'PUT' : 'GET', '/v1/operator/secrets/rotation');
      if (formatOf(o) === 'json') {
        io.out(json(view));
        return 0;
      }
      io.out(
        table(undefined, [
          ['Leader', view.Server],
          ['Primary', view.Primary],
          ['Remaining', String(view.Remaining)],
          ['Running', String(view.Running)],
          ['Re-encrypted', String(view.Resealed)],
          ['Encrypted (were plaintext)', String(view.Sealed)],
          ['Last pass values/s', String(view.LastPassValuesPerSecond)],
          ...(view.LastError ? [['Last error', view.LastError]] : []),
        ]),
      );
      return 0;
    },
  );
}
