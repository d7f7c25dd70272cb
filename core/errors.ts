/**
 * Typed errors shared by every layer. Each carries a stable `code`; the HTTP layer maps codes to
 * status codes in exactly one place (core/api/http-errors.ts). Messages are shown to clients, so
 * they must never contain secrets (tokens, keys).
 */

/** Every error code Konsul raises on purpose. Anything else is an internal fault. */
export type ErrorCode =
  | 'bad_request'
  | 'not_found'
  | 'method_not_allowed'
  | 'too_large'
  | 'conflict'
  | 'overloaded'
  | 'no_leader'
  | 'shutting_down'
  | 'corrupt'
  | 'storage'
  | 'config'
  | 'permission_denied'
  | 'acl_disabled'
  | 'rate_limited'
  | 'limit_reached'
  | 'no_path'
  | 'refused'
  | 'disk_full'
  | 'missing_key';

/** Base class of all deliberate Konsul errors. `code` is stable; `message` is for humans. */
export class KonsulError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The request is malformed: a parameter, header or body the client must fix. */
export class BadRequestError extends KonsulError {
  constructor(message: string) {
    super('bad_request', message);
  }
}

/** The addressed resource does not exist. */
export class NotFoundError extends KonsulError {
  constructor(message: string) {
    super('not_found', message);
  }
}

/** The HTTP method is not served on this path; `allowed` lists the ones that are. */
export class MethodNotAllowedError extends KonsulError {
  readonly allowed: readonly string[];
  constructor(method: string, allowed: readonly string[]) {
    super('method_not_allowed', `method ${method} not allowed`);
    this.allowed = allowed;
  }
}

/** A body or value exceeds a configured byte limit. */
export class TooLargeError extends KonsulError {
  constructor(message: string) {
    super('too_large', message);
  }
}

/** A bounded queue or registry is full; the caller may retry later (`retryAfterSeconds`). */
export class OverloadedError extends KonsulError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds = 1) {
    super('overloaded', message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** No leader is known, so a write or consistent read cannot be served. */
export class NoLeaderError extends KonsulError {
  constructor(message = 'No cluster leader') {
    super('no_leader', message);
  }
}

/** The component is shutting down and accepts no new work. */
export class ShuttingDownError extends KonsulError {
  constructor(what = 'server') {
    super('shutting_down', `${what} is shutting down`);
  }
}

/** Stored or received bytes failed validation (bad checksum, truncated frame, malformed command). */
export class CorruptError extends KonsulError {
  constructor(message: string) {
    super('corrupt', message);
  }
}

/** The storage engine failed; the operation was not applied. */
export class StorageError extends KonsulError {
  constructor(message: string, cause?: unknown) {
    super('storage', message, { cause });
  }
}

/**
 * The disk under the data dir is full: nothing more can be written until space is freed. The
 * server stays up, refuses writes with this error and retries the write it could not make.
 */
export class DiskFullError extends KonsulError {
  constructor(message: string, cause?: unknown) {
    super('disk_full', message, { cause });
  }
}

/** Configuration (flag, environment variable or file) is invalid. */
export class ConfigError extends KonsulError {
  constructor(message: string) {
    super('config', message);
  }
}

/** The request's token may not do this (Consul answers 403 "Permission denied"). Never names the token. */
export class PermissionDeniedError extends KonsulError {
  constructor(message = 'Permission denied') {
    super('permission_denied', message);
  }
}

/** An ACL endpoint was called while ACLs are off (Consul answers 401 "ACL support disabled"). */
export class AclDisabledError extends KonsulError {
  constructor() {
    super('acl_disabled', 'ACL support disabled');
  }
}

/** Too many requests from one address or token (429 with Retry-After). */
export class RateLimitedError extends KonsulError {
  readonly retryAfterSeconds: number;
  constructor(what: string, retryAfterSeconds: number) {
    super(
      'rate_limited',
      `Too many requests: the rate limit for this ${what} is reached; retry after ${retryAfterSeconds}s`,
    );
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A count the client controls is at its bound (active chaos experiments, say): answered 429 with
 * Retry-After, the seconds until room is expected. Not a rate limit and not an overload.
 */
export class LimitReachedError extends KonsulError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds = 1) {
    super('limit_reached', message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The request conflicts with the current state (409): e.g. a step-down asked of a server that does not lead. */
export class ConflictError extends KonsulError {
  constructor(message: string) {
    super('conflict', message);
  }
}

/**
 * The servers refused a well-formed request while applying it: a rule of the state it would change
 * (an invalid session, a session TTL out of range, a node that is not registered...). Consul
 * returns these as errors of its RPC layer, which its HTTP API answers with 500 and the reason as
 * the body, and clients branch on both (Patroni looks for "invalid session" and "Invalid Session
 * TTL"), so Konsul answers them the same way. The client's doing, not a fault: never logged as one.
 */
export class RefusedError extends KonsulError {
  constructor(message: string) {
    super('refused', message);
  }
}

/**
 * An encrypted value cannot be opened (or a value sealed) here because this node's keyring lacks
 * the key it needs (503: another server or agent with the key can answer). Names the key by its
 * id only, never by its material.
 */
export class MissingKeyError extends KonsulError {
  readonly keyId: string;
  constructor(keyId: string, message: string) {
    super('missing_key', message);
    this.keyId = keyId;
  }
}
