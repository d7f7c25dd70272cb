import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';

afterAll(cleanupAll);

describe('the Web UI files', () => {
  it('are served at /ui/ by the server, / redirects there, and nothing outside the UI is reachable', async () => {
    const s = await spawnServer({ args: ['--acl-enabled', '--acl-default-policy', 'deny'] });
    try {
      const root = await fetch(`${s.url}/`, { redirect: 'manual' });
      expect([root.status, root.headers.get('location')]).toEqual([302, '/ui/']);
      // No token needed for the page itself: the UI asks for one.
      const page = await fetch(`${s.url}/ui/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await page.text();
      expect(html).toContain('<div id="root"></div>');
      const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
      expect(script).toBeDefined();
      const js = await fetch(`${s.url}${script}`);
      expect(js.status).toBe(200);
      expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      // A page of the app is index.html; a missing asset is 404; nothing outside the UI's directory.
      expect(await (await fetch(`${s.url}/ui/services/web`)).text()).toBe(html);
      expect((await fetch(`${s.url}/ui/assets/nope.js`)).status).toBe(404);
      expect((await fetch(`${s.url}/ui/%2e%2e/cli.js`)).status).toBe(404);
      expect((await fetch(`${s.url}/ui/..%2f..%2fpackage.json`)).status).toBe(404);
      expect((await fetch(`${s.url}/ui/..%5c..%5cpackage.json`)).status).toBe(404);
      expect((await fetch(`${s.url}/ui/index.html%00`)).status).toBe(404);
      // A malformed percent-encoding is the client's error (it crashed the route with a 500 before).
      const malformed = await fetch(`${s.url}/ui/%zz`);
      expect([malformed.status, await malformed.text()]).toEqual([400, 'Invalid Web UI path: bad percent-encoding\n']);
      // The server still answers afterwards.
      expect((await fetch(`${s.url}/ui/`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });
});
