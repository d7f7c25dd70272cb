import type { RotationStatus } from './rotation.js';
import type { Secrets } from './secrets.js';

/**
 * A server's encrypted-values administration (docs/SECRETS.md), implemented by the server
 * (server/secrets.ts) over its key file. Key material only arrives in `install`; nothing here
 * returns or logs it.
 */
export interface SecretsAdminPort {
  readonly secrets: Secrets;
  /** Adds a 32-byte key to this server's key file and keyring; resolves with its id (already there: same id). */
  install(material: Uint8Array): Promise<string>;
  /** Removes key `id` from this server's key file and keyring (the caller checked it is unused). */
  remove(id: string): Promise<void>;
  /** The leader's re-encryption job. */
  rotationStatus(): RotationStatus;
  /** Asks the job for a pass now (see SecretsRotation.requestPass). */
  requestPass(sealPlaintext: boolean): void;
}
