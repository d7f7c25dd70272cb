import type { Hono } from 'hono';
import { BadRequestError } from '../errors.js';
import type { UiReader } from '../ports/runtime.js';

/** Where the Web UI is served; `/` and `/ui` redirect here. */
export const UI_PREFIX = '/ui/';

const NOT_BUILT = 'the Web UI is not built here: run npm run build\n';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** The extension of the last segment of `rel` (".js"), or "" when it has none (a page of the app). */
function extensionOf(rel: string): string {
  const name = rel.slice(rel.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot) : '';
}

/**
 * The file a path under /ui/ names, decoded (`pathname` as received, still percent-encoded):
 * "index.html" for /ui/ itself and for any path ending in "/" (pages of the single-page app), else
 * the rest of the path. Undefined when the path may not name a file of the UI: an empty, "." or
 * ".." segment, a backslash or a NUL (after decoding, so "%2e%2e" and "%2f" are caught too), or a
 * path outside /ui/. Throws BadRequestError for a malformed percent-encoding ("%zz").
 */
export function uiPathOf(pathname: string): string | undefined {
  if (!pathname.startsWith(UI_PREFIX)) return undefined;
  let rel: string;
  try {
    rel = decodeURIComponent(pathname.slice(UI_PREFIX.length));
  } catch {
    throw new BadRequestError('Invalid Web UI path: bad percent-encoding');
  }
  if (rel.includes('\\') || rel.includes('\0')) return undefined;
  const page = rel === '' || rel.endsWith('/');
  const segments = (page ? rel.slice(0, -1) : rel).split('/');
  if (rel !== '' && segments.some((s) => s === '' || s === '.' || s === '..')) return undefined;
  return page ? 'index.html' : rel;
}

/** A file of the UI as an answer: hashed assets are cached for a year, everything else never. */
function fileAnswer(rel: string, body: Uint8Array): Response {
  return new Response(body as Uint8Array<ArrayBuffer>, {
    headers: {
      'Content-Type': TYPES[extensionOf(rel)] ?? 'application/octet-stream',
      'Cache-Control': rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    },
  });
}

const notFound = (text: string): Response =>
  new Response(text, { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });

/**
 * Serves the built Web UI through `read` at /ui/ (a single-page app: a path without a file and
 * without an extension answers index.html) and redirects / and /ui there; servers and edge agents
 * alike, on any runtime. Hashed assets (`assets/…`) are cached for a year, the rest never. 404
 * for a missing asset or file with an extension, for a path that may not name a file of the UI
 * (uiPathOf), and — saying how to build it — when `read` is undefined or finds no index.html; 400
 * for a malformed percent-encoding. Needs no token: the UI asks for one.
 */
export function registerUiRoutes(app: Hono, read: UiReader | undefined): void {
  app.get('/', (c) => c.redirect(UI_PREFIX, 302));
  app.get('/ui', (c) => c.redirect(UI_PREFIX, 301));
  app.get('/ui/*', async (c) => {
    if (read === undefined) return notFound(NOT_BUILT);
    const rel = uiPathOf(new URL(c.req.url).pathname);
    if (rel === undefined) return notFound('not found\n');
    const body = await read(rel);
    if (body !== undefined) return fileAnswer(rel, body);
    if (rel === 'index.html') return notFound(NOT_BUILT);
    if (rel.startsWith('assets/') || extensionOf(rel) !== '')
      return notFound(`no file ${JSON.stringify(rel)} in the Web UI\n`);
    const index = await read('index.html');
    return index === undefined ? notFound(NOT_BUILT) : fileAnswer('index.html', index);
  });
}
