import { BadRequestError, TooLargeError } from '../errors.js';

/**
 * Reads a request body into memory, refusing more than `maxBytes`: a declared Content-Length
 * over the limit is refused before reading, and a streamed body is cut off as soon as it passes it.
 * Throws TooLargeError (413) naming the sizes.
 */
export async function readBody(req: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers.get('content-length');
  if (declared !== null) {
    const n = Number(declared);
    if (!Number.isSafeInteger(n) || n < 0) throw new BadRequestError(`Invalid Content-Length: ${JSON.stringify(declared)}`);
    if (n > maxBytes) throw tooLarge(n, maxBytes);
  }
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
      throw tooLarge(total, maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function tooLarge(size: number, max: number): TooLargeError {
  return new TooLargeError(`Request body (${size} bytes) too large, max size: ${max} bytes`);
}

/**
 * Reads a JSON request body (at most `maxBytes`, default 1 MiB). An empty body is undefined.
 * Throws BadRequestError when it is not JSON, TooLargeError when it is too long.
 */
export async function readJson(req: Request, maxBytes = 1024 * 1024): Promise<unknown> {
  const text = new TextDecoder().decode(await readBody(req, maxBytes));
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequestError('Request decode failed: body is not valid JSON');
  }
}
