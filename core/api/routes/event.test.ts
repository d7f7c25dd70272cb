import { describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../testing/harness.js';

const fire = (n: TestNode, path: string, body?: string) =>
  n.request(path, { method: 'PUT', ...(body === undefined ? {} : { body }) });
const json = async <T = unknown>(r: Response | Promise<Response>) => (await (await r).json()) as T;

interface Ev {
  ID: string;
  Name: string;
  Payload: string | null;
  NodeFilter: string;
  ServiceFilter: string;
  TagFilter: string;
  Version: number;
  LTime: number;
}

describe('user events API', () => {
  it('fires events (answering them with an ID) and lists them oldest first, by name', async () => {
    const n = createTestNode();
    const a = await json<Ev>(fire(n, '/v1/event/fire/deploy?service=web&tag=canary', 'v1.2'));
    expect(a).toMatchObject({
      Name: 'deploy',
      Payload: btoa('v1.2'),
      ServiceFilter: 'web',
      TagFilter: 'canary',
      NodeFilter: '',
      Version: 1,
      LTime: 1,
    });
    expect(a.ID).toMatch(/^[0-9a-f-]{36}$/);
    const b = await json<Ev>(fire(n, '/v1/event/fire/restart'));
    expect(b.Payload).toBeNull();
    expect(b.LTime).toBe(2);
    expect((await json<Ev[]>(n.request('/v1/event/list'))).map((e) => e.ID)).toEqual([a.ID, b.ID]);
    expect((await json<Ev[]>(n.request('/v1/event/list?name=deploy'))).map((e) => e.ID)).toEqual([a.ID]);
  });

  it('keeps the last 256 events', async () => {
    const n = createTestNode();
    for (let i = 0; i < 260; i++) await fire(n, `/v1/event/fire/e${i}`);
    const list = await json<Ev[]>(n.request('/v1/event/list'));
    expect(list).toHaveLength(256);
    expect(list[0]?.Name).toBe('e4');
    expect(list.at(-1)?.LTime).toBe(260);
  });

  it('answers list as a blocking query woken by the next event', async () => {
    const n = createTestNode();
    await fire(n, '/v1/event/fire/first');
    const first = await n.request('/v1/event/list');
    const index = Number(first.headers.get('X-Consul-Index'));
    const blocked = n.request(`/v1/event/list?index=${index}&wait=1m`);
    await new Promise((r) => setTimeout(r, 5));
    await fire(n, '/v1/event/fire/second');
    const r = await blocked;
    expect(Number(r.headers.get('X-Consul-Index'))).toBeGreaterThan(index);
    expect((await json<Ev[]>(r)).map((e) => e.Name)).toEqual(['first', 'second']);
  });

  it('refuses bad filters and payloads with a clear error', async () => {
    const n = createTestNode();
    // Consul's agent refuses these in UserEvent (validateUserEventParams): 500 with its texts.
    const tagOnly = await fire(n, '/v1/event/fire/x?tag=a');
    expect(tagOnly.status).toBe(500);
    expect((await tagOnly.text()).trimEnd()).toBe('Cannot provide tag filter without service filter');
    const badRegex = await fire(n, '/v1/event/fire/x?node=(');
    expect(badRegex.status).toBe(500);
    expect(await badRegex.text()).toMatch(/^Invalid node filter: /);
    expect((await fire(n, '/v1/event/fire/x', 'p'.repeat(513))).status).toBe(413);
    const reserved = await fire(n, '/v1/event/fire/_internal');
    expect(reserved.status).toBe(400);
    expect(await reserved.text()).toMatch(/reserved/);
    expect(await json(n.request('/v1/event/list'))).toEqual([]);
  });
});
