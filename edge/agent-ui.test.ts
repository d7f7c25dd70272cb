import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAll } from '../testing/process.js';
import { spawnEdge } from '../testing/spawn-edge.js';
import { spawnServer } from '../testing/spawn-server.js';

afterAll(cleanupAll);

describe('edge agent on Node, Web UI', () => {
  it('serves the same Web UI as the servers at /ui/ itself, and / redirects there', async () => {
    const server = await spawnServer();
    const edge = await spawnEdge({ upstream: server.url, args: ['--prefix', 'cfg/'] });
    try {
      const root = await fetch(`${edge.url}/`, { redirect: 'manual' });
      expect([root.status, root.headers.get('location')]).toEqual([302, '/ui/']);
      const page = await fetch(`${edge.url}/ui/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await page.text();
      expect(html).toContain('<div id="root"></div>');
      // The agent's own copy of the build: the same file the server serves.
      expect(await (await fetch(`${server.url}/ui/`)).text()).toBe(html);
      const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
      expect(script).toBeDefined();
      const js = await fetch(`${edge.url}${script}`);
      expect([js.status, js.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
      await js.arrayBuffer();
      // Pages of the app are index.html; nothing outside the UI; a bad encoding is the client's error.
      expect(await (await fetch(`${edge.url}/ui/kv/cfg/`)).text()).toBe(html);
      expect((await fetch(`${edge.url}/ui/assets/nope.js`)).status).toBe(404);
      expect((await fetch(`${edge.url}/ui/..%2f..%2fpackage.json`)).status).toBe(404);
      const malformed = await fetch(`${edge.url}/ui/%zz`);
      expect([malformed.status, await malformed.text()]).toEqual([400, 'Invalid Web UI path: bad percent-encoding\n']);
      // The UI's API calls come back to the agent, which answers or forwards them as before.
      const leader = await fetch(`${edge.url}/v1/status/leader`);
      expect(leader.status).toBe(200);
      await leader.text();
    } finally {
      expect(await edge.stop()).toBe(0);
      await server.stop();
    }
  });
});
