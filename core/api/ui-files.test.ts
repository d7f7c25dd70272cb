import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { errorAnswer } from './http-errors.js';
import { registerUiRoutes, uiPathOf } from './ui-files.js';

const utf8 = new TextEncoder();
const FILES: Record<string, string> = {
  'index.html': '<div id="root"></div>',
  'assets/app-1a2b.js': 'console.log(1)',
  'favicon.svg': '<svg/>',
};

/** An app serving FILES (no reader at all when `files` is null), recording every path it was asked to read. */
function app(files: Record<string, string> | null = FILES): { app: Hono; asked: string[] } {
  const asked: string[] = [];
  const a = new Hono();
  registerUiRoutes(
    a,
    files === null
      ? undefined
      : async (rel) => {
          asked.push(rel);
          const text = files[rel];
          return text === undefined ? undefined : utf8.encode(text);
        },
  );
  a.onError((err) => {
    const answer = errorAnswer(err);
    return new Response(answer.body, { status: answer.status });
  });
  return { app: a, asked };
}

const get = async (a: Hono, path: string) => {
  const res = await a.request(`http://konsul.test${path}`, { redirect: 'manual' });
  return { status: res.status, text: await res.text(), headers: res.headers };
};

describe('the Web UI routes', () => {
  it('name a file of the UI only for paths that stay inside it', () => {
    expect(uiPathOf('/ui/')).toBe('index.html');
    expect(uiPathOf('/ui/services/web/')).toBe('index.html');
    expect(uiPathOf('/ui/assets/app.js')).toBe('assets/app.js');
    expect(uiPathOf('/ui/kv/a%20b')).toBe('kv/a b');
    for (const bad of [
      '/ui/../cli.js',
      '/ui/%2e%2e/cli.js',
      '/ui/..%2f..%2fpackage.json',
      '/ui/assets/%2E%2E/%2E%2E/x',
      '/ui/./index.html',
      '/ui/a//b',
      '/ui/%2fetc/passwd',
      '/ui/..%5c..%5cx',
      '/ui/a%5cb',
      '/ui/index.html%00.js',
      '/other/x',
    ])
      expect(uiPathOf(bad), bad).toBeUndefined();
    expect(() => uiPathOf('/ui/%zz')).toThrow(/bad percent-encoding/);
    expect(() => uiPathOf('/ui/%E0%A4%A')).toThrow(/bad percent-encoding/);
  });

  it('answer files, index.html for pages of the app, 404 for missing files, 400 for a bad encoding', async () => {
    const { app: a, asked } = app();
    const root = await get(a, '/');
    expect([root.status, root.headers.get('location')]).toEqual([302, '/ui/']);
    const bare = await get(a, '/ui');
    expect([bare.status, bare.headers.get('location')]).toEqual([301, '/ui/']);
    const page = await get(a, '/ui/');
    expect([page.status, page.text, page.headers.get('content-type'), page.headers.get('cache-control')]).toEqual([
      200,
      FILES['index.html'],
      'text/html; charset=utf-8',
      'no-cache',
    ]);
    const js = await get(a, '/ui/assets/app-1a2b.js');
    expect([js.status, js.headers.get('content-type'), js.headers.get('cache-control')]).toEqual([
      200,
      'text/javascript; charset=utf-8',
      'public, max-age=31536000, immutable',
    ]);
    expect((await get(a, '/ui/favicon.svg')).headers.get('content-type')).toBe('image/svg+xml');
    // A page of the single-page app is index.html; a missing asset or file is 404.
    expect((await get(a, '/ui/services/web')).text).toBe(FILES['index.html']);
    expect((await get(a, '/ui/assets/nope.js')).status).toBe(404);
    expect((await get(a, '/ui/nope.png')).status).toBe(404);
    // Malformed percent-encoding: 400, never a crash or 500.
    const bad = await get(a, '/ui/%zz');
    expect([bad.status, bad.text]).toEqual([400, 'Invalid Web UI path: bad percent-encoding\n']);
    expect((await get(a, '/ui/assets/%E0%A4%A')).status).toBe(400);
    // Nothing that leaves the UI's directory reaches the reader.
    for (const p of ['/ui/..%2f..%2fpackage.json', '/ui/a%5c..%5c..%5cx', '/ui/index.html%00', '/ui/%2e%2e/x'])
      expect((await get(a, p)).status, p).toBe(404);
    expect(asked.every((rel) => !rel.split('/').includes('..') && !rel.includes('\\'))).toBe(true);
  });

  it('say how to build the UI when there is none', async () => {
    for (const a of [app(null).app, app({}).app]) {
      const page = await get(a, '/ui/');
      expect([page.status, page.text]).toEqual([404, 'the Web UI is not built here: run npm run build\n']);
      expect((await get(a, '/ui/services')).status).toBe(404);
    }
  });
});
