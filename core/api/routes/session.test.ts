import { describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../testing/harness.js';
import { createSession as session, registerTwoPassingNodes as nodes } from '../../../testing/session-fixtures.js';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};
const put = (n: TestNode, path: string, body?: unknown) =>
  n.request(path, {
    method: 'PUT',
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
const json = async <T = unknown>(r: Response | Promise<Response>) => (await (await r).json()) as T;

interface Entry {
  Key: string;
  Value: string | null;
  LockIndex: number;
  Session?: string;
  ModifyIndex: number;
}

async function entry(n: TestNode, key: string): Promise<Entry | undefined> {
  const r = await n.request(`/v1/kv/${key}`);
  if (r.status === 404) return undefined;
  return ((await r.json()) as Entry[])[0];
}

describe('sessions API', () => {
  it('creates sessions with Consul defaults and shows them by id, node and list', async () => {
    const n = createTestNode();
    await nodes(n);
    const id = await session(n, { Name: 'svc-lock' });
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const info = await json<Array<Record<string, unknown>>>(n.request(`/v1/session/info/${id}`));
    expect(info).toEqual([
      expect.objectContaining({
        ID: id,
        Name: 'svc-lock',
        Node: 'test',
        LockDelay: 15e9,
        Behavior: 'release',
        TTL: '',
        NodeChecks: ['serfHealth'],
        ServiceChecks: null,
      }),
    ]);
    const other = await session(n, {
      Node: 'n2',
      TTL: '30s',
      Behavior: 'delete',
      LockDelay: '1s',
      NodeChecks: [],
      ServiceChecks: [{ ID: 'web-http' }],
    });
    expect((await json<Array<Record<string, unknown>>>(n.request(`/v1/session/info/${other}`)))[0]).toMatchObject({
      Node: 'n2',
      TTL: '30s',
      Behavior: 'delete',
      LockDelay: 1e9,
      NodeChecks: [],
      ServiceChecks: [{ ID: 'web-http', Namespace: '' }],
    });
    expect((await json<unknown[]>(n.request('/v1/session/list'))).length).toBe(2);
    expect((await json<Array<{ ID: string }>>(n.request('/v1/session/node/n2'))).map((s) => s.ID)).toEqual([other]);
    expect(await json(n.request('/v1/session/node/nope'))).toEqual([]);
    // A lock delay given as a small number is seconds, as in Consul.
    const small = await session(n, { LockDelay: 3 });
    expect((await json<Array<{ LockDelay: number }>>(n.request(`/v1/session/info/${small}`)))[0]?.LockDelay).toBe(3e9);
  });

  it("refuses undecodable bodies with 400 and what the servers refuse with 500 and Consul's text", async () => {
    const n = createTestNode();
    await nodes(n);
    // Consul's HTTP layer answers 400 when it cannot decode the body.
    const undecodable: Array<[unknown, RegExp]> = [
      [{ TTL: 30 }, /^Request decode failed: Session.TTL/],
      [{ LockDelay: '2m' }, /longer than the maximum of 60s/],
      [{ ServiceChecks: 'web' }, /ServiceChecks/],
      ['[', /^Request decode failed/],
    ];
    for (const [body, message] of undecodable) {
      const r = await put(n, '/v1/session/create', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(await r.text()).toMatch(message);
    }
    // Its servers refuse the rest with an RPC error, which its HTTP layer answers with 500 (the
    // texts of agent/consul/session_endpoint.go and the state store).
    const refused: Array<[unknown, string]> = [
      [{ TTL: '5s' }, "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]"],
      [{ TTL: '86401s' }, "Invalid Session TTL '86401000000000', must be between [10s=24h0m0s]"],
      [{ TTL: 'soon' }, `Session TTL 'soon' invalid: time: invalid duration "soon"`],
      [{ Behavior: 'explode' }, "Invalid Behavior setting 'explode'"],
      [{ Node: 'ghost' }, 'Missing node registration for "ghost"'],
      [{ NodeChecks: ['nope'] }, "Missing check 'nope' registration"],
    ];
    for (const [body, message] of refused) {
      const r = await put(n, '/v1/session/create', body);
      expect(r.status, JSON.stringify(body)).toBe(500);
      expect((await r.text()).trimEnd()).toBe(message);
    }
    await put(n, '/v1/catalog/register', {
      Node: 'test',
      Address: '10.0.0.1',
      Check: { CheckID: 'serfHealth', Status: 'critical' },
    });
    const critical = await put(n, '/v1/session/create', {});
    expect(critical.status).toBe(500);
    expect((await critical.text()).trimEnd()).toBe("Check 'serfHealth' is in critical state");
    expect(await json(n.request('/v1/session/list'))).toEqual([]);
  });

  it('formats the TTL bounds of the refusal from the configured minimum, as Go durations', async () => {
    const n = createTestNode({ limits: { sessionTtlMinMs: 90_000 } });
    await nodes(n);
    const r = await put(n, '/v1/session/create', { TTL: '15.0s' });
    expect(r.status).toBe(500);
    const text = (await r.text()).trimEnd();
    expect(text).toBe("Invalid Session TTL '15000000000', must be between [1m30s=24h0m0s]");
    // What patroni/dcs/consul.py checks before it reads /v1/agent/self Config.SessionTTLMin.
    expect(text.startsWith('Invalid Session TTL')).toBe(true);
    const sub = createTestNode({ limits: { sessionTtlMinMs: 1500 } });
    await nodes(sub);
    const small = await put(sub, '/v1/session/create', { TTL: '1s' });
    expect((await small.text()).trimEnd()).toBe("Invalid Session TTL '1000000000', must be between [1.5s=24h0m0s]");
    expect((await put(sub, '/v1/session/create', { TTL: '1.5s' })).status).toBe(200);
  });

  it('answers unknown session ids as Consul: info [], destroy true, renew 404', async () => {
    const n = createTestNode();
    await nodes(n);
    const missing = '00000000-0000-4000-8000-000000000001';
    const info = await n.request(`/v1/session/info/${missing}`);
    expect(info.status).toBe(200);
    expect(Number(info.headers.get('X-Consul-Index'))).toBeGreaterThan(0);
    expect(await info.json()).toEqual([]);
    const destroy = await put(n, `/v1/session/destroy/${missing}`);
    expect(destroy.status).toBe(200);
    expect(await destroy.json()).toBe(true);
    const renew = await put(n, `/v1/session/renew/${missing}`);
    expect(renew.status).toBe(404);
    expect((await renew.text()).trimEnd()).toBe(`Session id '${missing}' not found`);
    // Destroying twice is fine too.
    const id = await session(n);
    expect(await json(put(n, `/v1/session/destroy/${id}`))).toBe(true);
    expect(await json(put(n, `/v1/session/destroy/${id}`))).toBe(true);
    expect(await json(n.request(`/v1/session/info/${id}`))).toEqual([]);
  });

  it('destroys sessions, and renews them (returning the session)', async () => {
    const n = createTestNode();
    await nodes(n);
    const id = await session(n, { TTL: '10s' });
    const renewed = await json<Array<{ ID: string; TTL: string }>>(put(n, `/v1/session/renew/${id}`));
    expect(renewed).toEqual([expect.objectContaining({ ID: id, TTL: '10s' })]);
    expect(await json(put(n, `/v1/session/destroy/${id}`))).toBe(true);
    expect(await json(n.request(`/v1/session/info/${id}`))).toEqual([]);
  });

  it('answers session reads as blocking queries woken by session changes', async () => {
    const n = createTestNode();
    await nodes(n);
    const first = await n.request('/v1/session/list');
    const index = Number(first.headers.get('X-Consul-Index'));
    let done = false;
    const blocked = n.request(`/v1/session/list?index=${index}&wait=1m`).then(async (r) => {
      done = true;
      return r;
    });
    await settle();
    expect(done).toBe(false);
    const id = await session(n);
    const r = await blocked;
    expect(Number(r.headers.get('X-Consul-Index'))).toBeGreaterThan(index);
    expect((await json<Array<{ ID: string }>>(r)).map((s) => s.ID)).toEqual([id]);
  });
});

describe('KV locks (?acquire / ?release)', () => {
  it('follows Consul: LockIndex rises per new holder, Session set and cleared, non-holders get false', async () => {
    const n = createTestNode();
    await nodes(n);
    const a = await session(n);
    const b = await session(n);
    expect(await json(put(n, `/v1/kv/lock?acquire=${a}`, 'a1'))).toBe(true);
    expect(await entry(n, 'lock')).toMatchObject({ LockIndex: 1, Session: a, Value: btoa('a1') });
    // The holder re-acquiring updates the value but not LockIndex.
    expect(await json(put(n, `/v1/kv/lock?acquire=${a}`, 'a2'))).toBe(true);
    expect(await entry(n, 'lock')).toMatchObject({ LockIndex: 1, Session: a, Value: btoa('a2') });
    // ... and with an identical value changes nothing, not even ModifyIndex.
    const same = await entry(n, 'lock');
    expect(await json(put(n, `/v1/kv/lock?acquire=${a}`, 'a2'))).toBe(true);
    expect(await entry(n, 'lock')).toEqual(same);
    // Another session can neither acquire nor release; nothing changes.
    const before = await entry(n, 'lock');
    expect(await json(put(n, `/v1/kv/lock?acquire=${b}`, 'b'))).toBe(false);
    expect(await json(put(n, `/v1/kv/lock?release=${b}`, 'b'))).toBe(false);
    expect(await entry(n, 'lock')).toEqual(before);
    // A plain write keeps the holder.
    expect(await json(put(n, '/v1/kv/lock', 'plain'))).toBe(true);
    expect((await entry(n, 'lock'))?.Session).toBe(a);
    expect(await json(put(n, `/v1/kv/lock?release=${a}`, 'free'))).toBe(true);
    const released = await entry(n, 'lock');
    expect(released?.Session).toBeUndefined();
    expect(released?.Value).toBe(btoa('free'));
    // Releasing by the holder is not a session invalidation: no lock delay.
    expect(await json(put(n, `/v1/kv/lock?acquire=${b}`, 'b'))).toBe(true);
    expect(await entry(n, 'lock')).toMatchObject({ Session: b, LockIndex: released!.LockIndex + 1 });
    // Releasing a key nobody holds is false; acquiring with ?flags keeps them.
    expect(await json(put(n, `/v1/kv/other?release=${a}`, 'x'))).toBe(false);
    expect(await json(put(n, `/v1/kv/flagged?acquire=${a}&flags=42`, 'x'))).toBe(true);
    expect(await json<Array<{ Flags: number }>>(n.request('/v1/kv/flagged'))).toEqual([
      expect.objectContaining({ Flags: 42, LockIndex: 1 }),
    ]);
  });

  it('destroying a session releases its locks and starts the lock delay', async () => {
    const n = createTestNode();
    await nodes(n);
    const a = await session(n, { LockDelay: '10s' });
    const b = await session(n);
    await put(n, `/v1/kv/svc/leader?acquire=${a}`, 'a');
    await put(n, `/v1/kv/svc/other?acquire=${a}`, 'a');
    expect(await json(put(n, `/v1/session/destroy/${a}`))).toBe(true);
    const e = await entry(n, 'svc/leader');
    expect(e?.Session).toBeUndefined();
    expect(e?.Value).toBe(btoa('a'));
    // Within the delay nobody acquires, not even a fresh session; the holder-less key stays.
    expect(await json(put(n, `/v1/kv/svc/leader?acquire=${b}`, 'b'))).toBe(false);
    n.clock.advance(9_999);
    expect(await json(put(n, `/v1/kv/svc/leader?acquire=${b}`, 'b'))).toBe(false);
    n.clock.advance(1);
    expect(await json(put(n, `/v1/kv/svc/leader?acquire=${b}`, 'b'))).toBe(true);
    expect(await entry(n, 'svc/leader')).toMatchObject({ Session: b, LockIndex: 2 });
    // Acquiring with a destroyed session fails as in Consul: 500 with the state store's text,
    // which Patroni recognises ("invalid session") to drop its session and make a new one.
    const gone = await put(n, `/v1/kv/svc/x?acquire=${a}`, 'a');
    expect(gone.status).toBe(500);
    expect((await gone.text()).trimEnd()).toBe(`invalid session "${a}"`);
    expect(await entry(n, 'svc/x')).toBeUndefined();
    // Releasing with it is not an error in Consul: the key is simply not held by it.
    const release = await put(n, `/v1/kv/svc/leader?release=${a}`, 'a');
    expect(release.status).toBe(200);
    expect(await release.json()).toBe(false);
    // In a transaction the same refusal is the operation's error in the 409 body.
    const txn = await put(n, '/v1/txn', [
      { KV: { Verb: 'lock', Key: 'svc/x', Value: btoa('a'), Session: a } },
      { KV: { Verb: 'unlock', Key: 'svc/leader', Value: btoa('a'), Session: a } },
    ]);
    expect(txn.status).toBe(409);
    expect(await txn.json()).toEqual({
      Results: null,
      Errors: [
        { OpIndex: 0, What: `invalid session "${a}"` },
        { OpIndex: 1, What: `failed to unlock key "svc/leader", lock isn't held, or is held by another session` },
      ],
    });
  });

  it('a session with behavior delete removes the keys it holds', async () => {
    const n = createTestNode();
    await nodes(n);
    const a = await session(n, { Behavior: 'delete', LockDelay: '0s' });
    await put(n, `/v1/kv/eph/1?acquire=${a}`, '1');
    await put(n, `/v1/kv/eph/2?acquire=${a}`, '2');
    await put(n, '/v1/kv/eph/3', 'unlocked');
    await put(n, `/v1/session/destroy/${a}`);
    expect(await entry(n, 'eph/1')).toBeUndefined();
    expect(await entry(n, 'eph/2')).toBeUndefined();
    expect(await entry(n, 'eph/3')).toBeDefined();
  });

  it('a TTL session expires on the leader after twice its TTL without renewal, releasing its locks', async () => {
    const n = createTestNode();
    await nodes(n);
    const a = await session(n, { TTL: '10s', LockDelay: '0s' });
    await put(n, `/v1/kv/ttl-lock?acquire=${a}`, 'a');
    n.clock.advance(15_000);
    await settle();
    // A renewal pushes the deadline to 20 s from now.
    expect((await put(n, `/v1/session/renew/${a}`)).status).toBe(200);
    n.clock.advance(19_000);
    await settle();
    expect((await n.request(`/v1/session/info/${a}`)).status).toBe(200);
    n.clock.advance(1_500);
    await settle();
    expect(await json(n.request(`/v1/session/info/${a}`))).toEqual([]);
    expect((await entry(n, 'ttl-lock'))?.Session).toBeUndefined();
    expect(n.sessionTtl.size).toBe(0);
  });

  it('a bound check going critical, or its node leaving, invalidates the session', async () => {
    const n = createTestNode();
    await nodes(n);
    const byService = await session(n, {
      Node: 'n2',
      NodeChecks: [],
      ServiceChecks: [{ ID: 'web-http' }],
      LockDelay: '0s',
    });
    const byNode = await session(n, { Node: 'n2', LockDelay: '0s' });
    const unbound = await session(n, { Node: 'n2', Checks: [], LockDelay: '0s' });
    await put(n, `/v1/kv/a?acquire=${byService}`, 'x');
    await put(n, `/v1/kv/b?acquire=${byNode}`, 'x');
    // A warning does not invalidate; critical does.
    await put(n, '/v1/catalog/register', {
      Node: 'n2',
      Address: '10.0.0.1',
      Check: { CheckID: 'web-http', ServiceID: 'web', Status: 'warning' },
    });
    expect((await n.request(`/v1/session/info/${byService}`)).status).toBe(200);
    await put(n, '/v1/catalog/register', {
      Node: 'n2',
      Address: '10.0.0.1',
      Check: { CheckID: 'web-http', ServiceID: 'web', Status: 'critical' },
    });
    expect(await json(n.request(`/v1/session/info/${byService}`))).toEqual([]);
    expect((await entry(n, 'a'))?.Session).toBeUndefined();
    expect((await n.request(`/v1/session/info/${byNode}`)).status).toBe(200);
    await put(n, '/v1/catalog/deregister', { Node: 'n2' });
    expect(await json(n.request(`/v1/session/info/${byNode}`))).toEqual([]);
    expect(await json(n.request(`/v1/session/info/${unbound}`))).toEqual([]);
    expect((await entry(n, 'b'))?.Session).toBeUndefined();
    expect(await json(n.request('/v1/session/node/n2'))).toEqual([]);
  });

  it('keeps mutual exclusion among many competing clients', async () => {
    const n = createTestNode();
    await nodes(n);
    let holder: string | undefined;
    let acquisitions = 0;
    const client = async (id: string): Promise<void> => {
      for (let round = 0; round < 5;) {
        if ((await json(put(n, `/v1/kv/mutex?acquire=${id}`, id))) !== true) {
          await settle();
          continue;
        }
        expect(holder, `${id} acquired while ${holder} held the lock`).toBeUndefined();
        holder = id;
        acquisitions++;
        await settle();
        holder = undefined;
        expect(await json(put(n, `/v1/kv/mutex?release=${id}`, ''))).toBe(true);
        round++;
      }
    };
    const ids = await Promise.all(Array.from({ length: 12 }, () => session(n, { LockDelay: '0s' })));
    await Promise.all(ids.map(client));
    expect(acquisitions).toBe(60);
    expect((await entry(n, 'mutex'))?.LockIndex).toBeGreaterThanOrEqual(12);
  });
});
