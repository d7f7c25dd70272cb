import { BadRequestError, TooLargeError } from '../errors.js';
import { concatBytes } from '../util/bytes.js';
import { requestSlot } from './request-slot.js';

/**
 * A runtime's direct way to read a request's body without the Web stream (which costs a Node
 * server a full Request per call): resolves with the whole body, rejects with bodyTooLarge()
 * as soon as more than `maxBytes` arrived, and checks the declared Content-Length first as
 * checkDeclaredLength() does (so readBody need not build the Request's headers). Answers
 * undefined when it cannot read this request.
 */
export type BodyReader = (req: Request, maxBytes: number) => Promise<Uint8Array> | undefined;

/** The BodyReader of a runtime without a direct one: every body is read as a Web stream. */
export const WEB_STREAM_BODIES: BodyReader = () => undefined;

const keptBodies = requestSlot<Uint8Array>('konsul.body');

/**
 * Reads `req`'s body once (as readBody, up to `maxBytes`) and keeps it, so the handler that runs
 * next reads the same bytes through readBody (a middleware that had to look at the body).
 */
export async function readBodyKept(req: Request, maxBytes: number, direct?: BodyReader): Promise<Uint8Array> {
  const body = await readBody(req, maxBytes, direct);
  keptBodies.set(req, body);
  return body;
}

/**
 * Reads a request body into memory, refusing more than `maxBytes`: a declared Content-Length
 * over the limit is refused before reading, and a streamed body is cut off as soon as it passes it.
 * Throws TooLargeError (413) naming the sizes. Uses `direct` (ApiDeps.bodyReader) when it can.
 */
export async function readBody(req: Request, maxBytes: number, direct?: BodyReader): Promise<Uint8Array> {
  const kept = keptBodies.get(req);
  if (kept) {
    if (kept.byteLength > maxBytes) throw bodyTooLarge(kept.byteLength, maxBytes);
    return kept;
  }
  const fast = direct?.(req, maxBytes);
  if (fast) return fast;
  checkDeclaredLength(req.headers.get('content-length'), maxBytes);
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw bodyTooLarge(total, maxBytes);
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}

/**
 * Refuses a request whose declared Content-Length (`declared`; null or undefined when absent) is
 * not a length (BadRequestError) or is over `maxBytes` (TooLargeError), before its body is read.
 */
export function checkDeclaredLength(declared: string | null | undefined, maxBytes: number): void {
  if (declared === null || declared === undefined) return;
  const n = Number(declared);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new BadRequestError(`Invalid Content-Length: ${JSON.stringify(declared)}`);
  if (n > maxBytes) throw bodyTooLarge(n, maxBytes);
}

/** Decodes request bodies (stateless between calls: each decode() call is whole). */
const utf8 = new TextDecoder();

/** The 413 for a body of (at least) `size` bytes over a limit of `max`. */
export function bodyTooLarge(size: number, max: number): TooLargeError {
  // Consul's wording (agent/kvs_endpoint.go), which has no space before the parenthesis.
  return new TooLargeError(`Request body(${size} bytes) too large, max size: ${max} bytes`);
}

/**
 * Reads a JSON request body (at most `maxBytes`, default 1 MiB; `direct` as for readBody). An empty body is undefined.
 * Throws BadRequestError when it is not JSON, TooLargeError when it is too long.
 */
export async function readJson(req: Request, maxBytes = 1024 * 1024, direct?: BodyReader): Promise<unknown> {
  const text = utf8.decode(await readBody(req, maxBytes, direct));
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequestError('Request decode failed: body is not valid JSON');
  }
}
