import { BadRequestError } from '../errors.js';
import { utf8Length } from '../util/keys.js';
import { parseUint64 } from '../util/uint64.js';
import { MAX_KEY_BYTES } from './types.js';

/** Set `key` unconditionally. Result: true. */
export interface KvSetCommand {
  readonly type: 'kv.set';
  readonly key: string;
  readonly value: Uint8Array;
  readonly flags: string;
}
/** Set `key` only if its ModifyIndex equals `cas` (0: only if absent). Result: boolean. */
export interface KvCasCommand {
  readonly type: 'kv.cas';
  readonly key: string;
  readonly value: Uint8Array;
  readonly flags: string;
  readonly cas: number;
}
/** Delete `key` (absent keys are fine). Result: true. */
export interface KvDeleteCommand {
  readonly type: 'kv.delete';
  readonly key: string;
}
/** Delete `key` only if its ModifyIndex equals `cas` (an absent key also succeeds). Result: boolean. */
export interface KvDeleteCasCommand {
  readonly type: 'kv.delete-cas';
  readonly key: string;
  readonly cas: number;
}
/** Delete every key starting with `prefix` ('' deletes all). Result: true. */
export interface KvDeleteTreeCommand {
  readonly type: 'kv.delete-tree';
  readonly prefix: string;
}
/**
 * Remove tombstones with index <= `upTo` (tombstone garbage collection) and, given `now`, lock
 * delays that ended by then. Result: number of tombstones removed.
 */
export interface KvReapTombstonesCommand {
  readonly type: 'kv.reap-tombstones';
  readonly upTo: number;
  readonly now?: number;
}

/**
 * Acquire `key` for `session` and write value/flags (`?acquire=`). `now` (ms since epoch, the
 * proposer's clock) is compared with lock delays. Result: boolean (false: held by another session
 * or within a lock delay). Fails with RefusedError (500 `invalid session "<id>"`) for an unknown session.
 */
export interface KvLockCommand {
  readonly type: 'kv.lock';
  readonly key: string;
  readonly value: Uint8Array;
  readonly flags: string;
  readonly session: string;
  readonly now: number;
}
/** Release `key` held by `session` and write value/flags (`?release=`). Result: boolean. */
export interface KvUnlockCommand {
  readonly type: 'kv.unlock';
  readonly key: string;
  readonly value: Uint8Array;
  readonly flags: string;
  readonly session: string;
}

/** Every KV command. */
export type KvCommand =
  | KvSetCommand
  | KvLockCommand
  | KvUnlockCommand
  | KvCasCommand
  | KvDeleteCommand
  | KvDeleteCasCommand
  | KvDeleteTreeCommand
  | KvReapTombstonesCommand;

/**
 * Checks a key for storage: non-empty, well-formed Unicode, at most MAX_KEY_BYTES in UTF-8.
 * Throws BadRequestError naming the problem.
 */
export function validateKey(key: string): void {
  if (key.length === 0) throw new BadRequestError('Missing key name');
  if (!key.isWellFormed()) throw new BadRequestError('Invalid key name: not valid Unicode');
  const bytes = utf8Length(key);
  if (bytes > MAX_KEY_BYTES) {
    throw new BadRequestError(`Key too long: ${bytes} bytes, max ${MAX_KEY_BYTES}`);
  }
}

/** Checks a prefix for a recursive operation (may be empty). Throws BadRequestError. */
export function validatePrefix(prefix: string): void {
  if (!prefix.isWellFormed()) throw new BadRequestError('Invalid key name: not valid Unicode');
  if (utf8Length(prefix) > MAX_KEY_BYTES) {
    throw new BadRequestError(`Key too long: max ${MAX_KEY_BYTES} bytes`);
  }
}

/**
 * Parses a Consul flags value: a decimal uint64. Returns its canonical string.
 * Throws BadRequestError("Invalid flags ...") otherwise.
 */
export function parseFlags(text: string): string {
  const n = parseUint64(text);
  if (n === undefined)
    throw new BadRequestError(`Invalid flags: ${JSON.stringify(text)} is not an unsigned 64-bit integer`);
  return n.toString();
}
