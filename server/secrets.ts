import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { ConfigError, ConflictError, KonsulError } from '../core/errors.js';
import { replicatedPrimary, sealedKeyUsage } from '../core/kv/sealed.js';
import type { ReadTxn } from '../core/ports/state-store.js';
import type { SecretsAdminPort } from '../core/sealing/admin.js';
import type { SecretsRotation } from '../core/sealing/rotation.js';
import type { Secrets } from '../core/sealing/secrets.js';
import {
  formatKeyFile,
  type KeyFile,
  Keyring,
  keyIdOf,
  MAX_KEY_FILE_BYTES,
  MAX_KEYRING_KEYS,
  parseKeyFile,
} from '../core/secrets/keyring.js';
import { readFailed, StartupError } from './start-errors.js';

const FLAG = '--encrypt-key-file';

/** Reads and parses a key file; StartupError naming the flag and the file when it cannot. */
export async function readKeyFile(path: string): Promise<KeyFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw readFailed(FLAG, path, err);
  }
  if (text.length > MAX_KEY_FILE_BYTES) throw new StartupError(FLAG, path, `${FLAG} ${path}: file too large`);
  try {
    return parseKeyFile(text);
  } catch (err) {
    if (err instanceof ConfigError) throw new StartupError(FLAG, path, `${FLAG} ${path}: ${err.message}`);
    throw err;
  }
}

/** The keyring of `--encrypt-key-file` (undefined without the flag). StartupError for a bad file. */
export async function loadServerKeyring(path: string | undefined): Promise<Keyring | undefined> {
  if (path === undefined) return undefined;
  return Keyring.load(globalThis.crypto.subtle, await readKeyFile(path));
}

/**
 * Refuses to start a server whose keyring cannot open the values its state holds, or lacks the
 * cluster's primary: a StartupError saying which key id is missing and how many values it seals
 * (from the replicated counts: no value is read). Key ids only; never key material.
 */
export function checkKeyringCovers(
  read: <T>(run: (tx: ReadTxn) => T) => T,
  keyring: Keyring | undefined,
  path: string | undefined,
): void {
  const usage = read(sealedKeyUsage);
  const primary = read(replicatedPrimary);
  const value = path ?? '';
  if (keyring === undefined) {
    if (usage.size === 0) return;
    const total = [...usage.values()].reduce((a, b) => a + b, 0);
    throw new StartupError(
      FLAG,
      value,
      `the data holds ${total} encrypted values (keys ${[...usage.keys()].join(', ')}) but no ${FLAG} was given: ` +
        'start the server with the key file the cluster uses',
    );
  }
  for (const [id, n] of usage) {
    if (!keyring.has(id))
      throw new StartupError(
        FLAG,
        value,
        `the keyring lacks key ${id} used by ${n} values; install it in ${FLAG} ${value} ` +
          '(konsul secrets keyring install)',
      );
  }
  if (primary !== undefined && !keyring.has(primary))
    throw new StartupError(
      FLAG,
      value,
      `the keyring lacks key ${primary}, the cluster's primary; install it in ${FLAG} ${value}`,
    );
}

/**
 * The keyring administration of one server over its key file: installing and removing keys
 * rewrites the file (a temporary file renamed over it, mode 0600) and swaps the keyring in
 * `secrets`. Calls run one at a time.
 */
export class ServerSecretsAdmin implements SecretsAdminPort {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly secrets: Secrets,
    private readonly path: string,
    private readonly rotation: SecretsRotation,
  ) {}

  install(material: Uint8Array): Promise<string> {
    return this.serially(async (file) => {
      const id = keyIdOf(material);
      if (file.keys.some((k) => keyIdOf(k) === id)) return { id };
      if (file.keys.length >= MAX_KEYRING_KEYS)
        throw new ConflictError(`the key file already holds ${MAX_KEYRING_KEYS} keys: remove one first`);
      return { id, next: { keys: [...file.keys, material.slice()], primary: file.primary } };
    });
  }

  async remove(id: string): Promise<void> {
    await this.serially(async (file) => {
      const at = file.keys.findIndex((k) => keyIdOf(k) === id);
      if (at < 0) return { id };
      const keys = file.keys.filter((_, i) => i !== at);
      // The file's primary follows the cluster's (chosen with `keyring use`) when it is removed.
      const primary = at === file.primary ? this.secrets.primary() : keyIdOf(file.keys[file.primary] as Uint8Array);
      const index = keys.findIndex((k) => keyIdOf(k) === primary);
      if (index < 0) throw new ConflictError(`key ${id} is the key file's primary: make another key primary first`);
      return { id, next: { keys, primary: index } };
    });
  }

  rotationStatus() {
    return this.rotation.status();
  }

  requestPass(sealPlaintext: boolean): void {
    this.rotation.requestPass(sealPlaintext);
  }

  /** Runs `edit` on the current file (one edit at a time); writes and loads what it returns. */
  private serially(edit: (file: KeyFile) => Promise<{ id: string; next?: KeyFile }>): Promise<string> {
    const run = this.queue.then(async () => {
      let file: KeyFile;
      try {
        file = await readKeyFile(this.path);
      } catch (err) {
        throw err instanceof KonsulError ? new ConfigError(err.message) : err;
      }
      const { id, next } = await edit(file);
      if (next === undefined) return id;
      const keyring = await Keyring.load(globalThis.crypto.subtle, next);
      const tmp = `${this.path}.tmp`;
      await writeFile(tmp, formatKeyFile(next), { mode: 0o600 });
      await chmod(tmp, 0o600);
      await rename(tmp, this.path);
      this.secrets.replaceKeyring(keyring);
      return id;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
