import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { Hono } from 'hono';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/**
 * Serves the Web UI built into `dir` at /ui/ (a single-page app: paths without a file answer
 * index.html) and redirects / there. Hashed assets are cached for a year, index.html never. A
 * server started without the UI built answers /ui/ with 404 saying how to build it.
 */
export function registerUiRoutes(app: Hono, dir: string | undefined): void {
  app.get('/', (c) => c.redirect('/ui/', 302));
  app.get('/ui', (c) => c.redirect('/ui/', 301));
  app.get('/ui/*', async (c) => {
    if (dir === undefined) return c.text('the Web UI is not built here: run npm run build\n', 404);
    const rel = decodeURIComponent(new URL(c.req.url).pathname.slice('/ui/'.length));
    const path = normalize(join(dir, rel));
    // Never outside the UI's directory.
    if (!path.startsWith(dir.endsWith(sep) ? dir : dir + sep) && path !== dir) return c.text('not found\n', 404);
    const asset = rel.startsWith('assets/');
    try {
      const body = await readFile(rel === '' ? join(dir, 'index.html') : path);
      const type = TYPES[extname(rel === '' ? 'index.html' : path)] ?? 'application/octet-stream';
      return new Response(body, {
        headers: { 'Content-Type': type, 'Cache-Control': asset ? 'public, max-age=31536000, immutable' : 'no-cache' },
      });
    } catch {
      if (asset || extname(rel) !== '') return c.text(`no file ${JSON.stringify(rel)} in the Web UI\n`, 404);
      try {
        const index = await readFile(join(dir, 'index.html'));
        return new Response(index, {
          headers: { 'Content-Type': TYPES['.html'] as string, 'Cache-Control': 'no-cache' },
        });
      } catch {
        return c.text('the Web UI is not built here: run npm run build\n', 404);
      }
    }
  });
}
