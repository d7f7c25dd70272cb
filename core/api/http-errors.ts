import {
  type ErrorCode,
  KonsulError,
  LimitReachedError,
  MethodNotAllowedError,
  OverloadedError,
  RateLimitedError,
} from '../errors.js';

/** The single mapping from error codes to HTTP status codes. */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  not_found: 404,
  method_not_allowed: 405,
  too_large: 413,
  conflict: 409,
  overloaded: 503,
  no_leader: 500,
  shutting_down: 503,
  corrupt: 500,
  storage: 500,
  config: 500,
  permission_denied: 403,
  acl_disabled: 401,
  rate_limited: 429,
  limit_reached: 429,
  // Consul answers an unknown datacenter with 500 "No path to datacenter".
  no_path: 500,
  // Consul answers what its servers refuse while applying a request (RPC errors) with 500.
  refused: 500,
  // WebDAV's "Insufficient Storage": the write cannot be stored on this server until space is freed.
  disk_full: 507,
  // This node lacks the key of an encrypted value; a node that has it can answer (docs/SECRETS.md).
  missing_key: 503,
};

/** Error codes answered with a 5xx that are the client's doing, not a fault (not logged as errors). */
export const CLIENT_CAUSED_5XX: ReadonlySet<ErrorCode> = new Set(['no_path', 'refused']);

/** An HTTP error answer: status, plain-text body, extra headers. */
export interface ErrorAnswer {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string>;
}

/**
 * Header naming the error code of a deliberate error answer (a Konsul extension): it tells a 500
 * Consul also answers on purpose (`refused`, `no_path`) from an internal fault, which has none.
 */
export const ERROR_CODE_HEADER = 'X-Konsul-Error-Code';

/**
 * Turns any thrown value into the answer a client sees. KonsulErrors keep their message and name
 * their code in ERROR_CODE_HEADER; anything else is reported as an internal error without details
 * (they go to the log instead).
 */
export function errorAnswer(err: unknown): ErrorAnswer {
  if (!(err instanceof KonsulError)) {
    return { status: 500, body: 'Internal server error\n', headers: {} };
  }
  const headers: Record<string, string> = { [ERROR_CODE_HEADER]: err.code };
  if (err instanceof MethodNotAllowedError) headers['Allow'] = err.allowed.join(', ');
  if (err instanceof OverloadedError || err instanceof RateLimitedError || err instanceof LimitReachedError)
    headers['Retry-After'] = String(err.retryAfterSeconds);
  // A code this build does not know (a newer peer's) is still an error answer, never undefined.
  return { status: STATUS_BY_CODE[err.code] ?? 500, body: `${err.message}\n`, headers };
}
