import { describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../testing/harness.js';
import { SseReader } from '../../../testing/sse.js';
import { parseReport } from '../../fleet/input.js';
import {
  type FleetExpireCommand,
  type FleetMember,
  type FleetSeenCommand,
  MAX_FLEET_MEMBERS,
  MAX_FLEET_REPORTS,
} from '../../fleet/types.js';

const announce = (n: TestNode, id: string, body: unknown, token?: string) =>
  n.request(`/v1/edge/agents/${id}`, {
    method: 'PUT',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: token ? { 'X-Consul-Token': token } : {},
  });
const list = async (n: TestNode, query = '') =>
  (await (await n.request(`/v1/edge/agents${query}`)).json()) as FleetMember[];

/** Lets the reporter's timer fire and its write land. */
async function flush(n: TestNode): Promise<void> {
  n.clock.advance(1000);
  await n.deps.fleet?.flush();
  await new Promise((r) => setTimeout(r, 0));
}

const PI = {
  Runtime: 'bun',
  RuntimeVersion: '1.2.3',
  Version: '0.1.0',
  Arch: 'arm64',
  Datacenter: 'dc1',
  Prefixes: ['app/'],
  Services: ['web'],
  ReplicaIndex: 42,
  OutboxDepth: 3,
};

describe('the edge fleet (/v1/edge/agents)', () => {
  it('records announcements within a flush, one row per agent, and answers blocking reads', async () => {
    const n = createTestNode();
    n.clock.advance(10_000);
    await n.request('/v1/kv/app/x', { method: 'PUT', body: 'x' });
    expect((await announce(n, 'pi-1', PI)).status).toBe(200);
    expect((await announce(n, 'pi-1', { ...PI, ReplicaIndex: 43 })).status).toBe(200);
    expect((await announce(n, 'pi-2', { ...PI, Runtime: 'deno' })).status).toBe(200);
    expect(await list(n)).toEqual([]);
    await flush(n);
    const members = await list(n);
    expect(members.map((m) => [m.ID, m.Runtime, m.ReplicaIndex, m.Status, m.Kind, m.Link])).toEqual([
      ['pi-1', 'bun', 43, 'online', 'agent', 'http'],
      ['pi-2', 'deno', 42, 'online', 'agent', 'http'],
    ]);
    expect(members[0]).toMatchObject({ Arch: 'arm64', Prefixes: ['app/'], OutboxDepth: 3, Server: 'test' });
    // The server's applied index when it heard the agent: how far behind the replica was.
    expect(members[0]?.ServerIndex).toBeGreaterThan(0);
    const one = await n.request('/v1/edge/agents/pi-1');
    expect(one.status).toBe(200);
    const index = Number(one.headers.get('X-Consul-Index'));
    expect((await one.json()) as FleetMember).toMatchObject({ ID: 'pi-1', RuntimeVersion: '1.2.3' });
    expect((await n.request('/v1/edge/agents/pi-9')).status).toBe(404);
    // A blocking read returns when the agent is heard again.
    const blocked = n.request(`/v1/edge/agents/pi-1?index=${index}&wait=30s`);
    await announce(n, 'pi-1', { ...PI, OutboxDepth: 0 });
    await flush(n);
    expect(((await (await blocked).json()) as FleetMember).OutboxDepth).toBe(0);
    expect((await list(n, '?status=offline')).length).toBe(0);
    expect((await list(n, '?kind=device')).length).toBe(0);
  });

  it('marks silent members offline and back online, and streams those changes', async () => {
    const n = createTestNode();
    const stream = await n.request('/v1/watch/edge/agents');
    expect(stream.status).toBe(200);
    const events = new SseReader(stream);
    await announce(n, 'pi-1', PI);
    await announce(n, 'pi-2', PI);
    await flush(n);
    const t0 = n.clock.now();
    // pi-2 keeps announcing; pi-1 falls silent.
    n.clock.advance(20_000);
    await announce(n, 'pi-2', PI);
    await flush(n);
    const gone = await n.deps.writer.submit<string[], FleetExpireCommand>({
      type: 'fleet.expire',
      now: t0 + 31_000,
      silenceMs: 30_000,
    });
    expect(gone.value).toEqual(['pi-1']);
    expect((await list(n, '?status=offline')).map((m) => m.ID)).toEqual(['pi-1']);
    await announce(n, 'pi-1', PI);
    await flush(n);
    expect((await list(n, '?status=online')).map((m) => m.ID)).toEqual(['pi-1', 'pi-2']);
    const ops = (await events.take(4)).map((e) => JSON.parse(e.data) as { Op: string; ID: string });
    expect(ops.map((e) => [e.Op, e.ID])).toEqual([
      ['online', 'pi-1'],
      ['online', 'pi-2'],
      ['offline', 'pi-1'],
      ['online', 'pi-1'],
    ]);
    // Forgetting ends with a "forgotten" event; the member is gone until heard again.
    expect((await n.request('/v1/edge/agents/pi-2', { method: 'DELETE' })).status).toBe(200);
    expect((await n.request('/v1/edge/agents/pi-2', { method: 'DELETE' })).status).toBe(404);
    expect(JSON.parse((await events.take(1))[0]?.data as string)).toMatchObject({ Op: 'forgotten', ID: 'pi-2' });
    events.close();
  });

  it('refuses bad announcements with 400 naming the problem, and stores nothing', async () => {
    const n = createTestNode();
    const cases: Array<[string, unknown, RegExp]> = [
      ['bad name!', PI, /Invalid agent/],
      ['pi-1', 'not json', /not valid JSON/],
      ['pi-1', [1], /expected a JSON object/],
      ['pi-1', { ...PI, Kind: 'robot' }, /Kind must be/],
      ['pi-1', { ...PI, ID: 'someone-else' }, /not the agent in the path/],
      ['pi-1', { ...PI, Runtime: 'x'.repeat(200) }, /Runtime must be a string of at most 128/],
      ['pi-1', { ...PI, ReplicaIndex: -1 }, /ReplicaIndex must be a non-negative integer/],
      ['pi-1', { ...PI, Prefixes: 'app/' }, /Prefixes must be a list/],
    ];
    for (const [id, body, message] of cases) {
      const r = await announce(n, encodeURIComponent(id), body);
      expect(r.status, `${id} ${JSON.stringify(body)}`).toBe(400);
      expect(await r.text()).toMatch(message);
    }
    await flush(n);
    expect(await list(n)).toEqual([]);
    expect((await n.request('/v1/edge/agents?status=gone')).status).toBe(400);
  });

  it('keeps at most MAX_FLEET_MEMBERS members: new names past it are dropped, known ones still update', async () => {
    const n = createTestNode();
    const report = (id: string, index = 0) => ({ ...parseReport({ ReplicaIndex: index }, id, 'mqtt'), ServerIndex: 9 });
    for (let b = 0; b < MAX_FLEET_MEMBERS / MAX_FLEET_REPORTS; b++)
      await n.deps.writer.submit({
        type: 'fleet.seen',
        now: 1,
        server: 's',
        reports: Array.from({ length: MAX_FLEET_REPORTS }, (_, i) => report(`a-${b}-${i}`)),
      });
    const extra = await n.deps.writer.submit<number, FleetSeenCommand>({
      type: 'fleet.seen',
      now: 2,
      server: 's',
      reports: [report('newcomer'), report('a-0-0', 7)],
    });
    expect(extra.value).toBe(1);
    const all = await list(n);
    expect(all.length).toBe(MAX_FLEET_MEMBERS);
    expect(all.find((m) => m.ID === 'a-0-0')?.ReplicaIndex).toBe(7);
    expect(all.some((m) => m.ID === 'newcomer')).toBe(false);
  });
});
