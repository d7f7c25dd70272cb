import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAll, until } from '../testing/process.js';
import { spawnEdge } from '../testing/spawn-edge.js';
import { spawnServer } from '../testing/spawn-server.js';

afterAll(cleanupAll);

const text = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
};

describe('edge agent with upstreams in two datacenters', () => {
  it('uses one, and when it goes away takes the other, starting its replica over from that datacenter', async () => {
    const servers = {
      dc1: await spawnServer(),
      dc2: await spawnServer({ args: ['--datacenter', 'dc2'] }),
    };
    for (const [dc, s] of Object.entries(servers)) {
      await fetch(`${s.url}/v1/kv/cfg/where`, { method: 'PUT', body: dc });
      await fetch(`${s.url}/v1/kv/cfg/only-${dc}`, { method: 'PUT', body: 'x' });
    }
    const edge = await spawnEdge({
      upstream: servers.dc1.url,
      args: ['--upstream', servers.dc2.url, '--prefix', 'cfg/'],
    });
    const status = async () =>
      JSON.parse((await text(`${edge.url}/v1/edge/status`)).body) as {
        Connected: boolean;
        UpstreamDatacenter?: string;
      };
    const first = (await until('connected', status, (s) => s.Connected && s.UpstreamDatacenter !== undefined))
      .UpstreamDatacenter as 'dc1' | 'dc2';
    const other = first === 'dc1' ? 'dc2' : 'dc1';
    await until(
      'the first datacenter replicated',
      () => text(`${edge.url}/v1/kv/cfg/where?raw`),
      (r) => r.body === first,
    );
    expect((await text(`${edge.url}/v1/kv/cfg/only-${first}?raw`)).status).toBe(200);
    expect((await text(`${edge.url}/v1/kv/cfg/only-${other}?raw`)).status).toBe(404);

    // The datacenter in use goes away: the agent takes the other and starts over from its snapshot.
    expect(await servers[first].stop()).toBe(0);
    await until(
      'the other datacenter replicated',
      () => text(`${edge.url}/v1/kv/cfg/where?raw`),
      (r) => r.body === other,
      30_000,
    );
    expect((await status()).UpstreamDatacenter).toBe(other);
    expect((await text(`${edge.url}/v1/kv/cfg/only-${other}?raw`)).status).toBe(200);
    // Nothing of the first datacenter's replica is left (a resume would have kept it).
    expect((await text(`${edge.url}/v1/kv/cfg/only-${first}?raw`)).status).toBe(404);
    // Writes go to the datacenter in use.
    const put = await fetch(`${edge.url}/v1/kv/cfg/written`, { method: 'PUT', body: 'here' });
    expect(await put.text()).toBe('true');
    expect((await text(`${servers[other].url}/v1/kv/cfg/written?raw`)).body).toBe('here');
    await edge.stop();
    await servers[other].stop();
  }, 90_000);
});
