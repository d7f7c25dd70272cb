import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertySeed } from '../../../testing/kv-arbitraries.js';
import { createTestNode, type TestNode } from '../../../testing/harness.js';
import { META_TABLE } from '../../fsm/meta.js';

const put = (n: TestNode, path: string, body?: unknown) =>
  n.request(path, {
    method: 'PUT',
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
const json = async <T = unknown>(r: Response | Promise<Response>) => (await (await r).json()) as T;
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function ready(n: TestNode): Promise<string> {
  await put(n, '/v1/catalog/register', {
    Node: 'test',
    Address: '10.0.0.1',
    Check: { CheckID: 'serfHealth', Status: 'passing' },
  });
  return (await json<{ ID: string }>(put(n, '/v1/session/create', { LockDelay: '0s' }))).ID;
}

/** Every table except the applied index, as JSON (the state a failed transaction must not touch). */
function dump(n: TestNode): string {
  return n.store.read((tx) =>
    JSON.stringify(
      n.store.tables.map((t) => [
        t,
        [...tx.range(t)]
          .filter(([k]) => !(t === META_TABLE && k === 'applied'))
          .map(([k, v]) => [k, v instanceof Uint8Array ? [...v] : v]),
      ]),
    ),
  );
}

describe('PUT /v1/txn', () => {
  it('applies KV verbs all at one index and answers results in order (values only for reads)', async () => {
    const n = createTestNode();
    const sid = await ready(n);
    await put(n, '/v1/kv/old', 'o');
    await put(n, '/v1/kv/tree/x', 'x');
    const oldIndex = (await json<Array<{ ModifyIndex: number }>>(n.request('/v1/kv/old')))[0]!.ModifyIndex;
    const r = await put(n, '/v1/txn', [
      { KV: { Verb: 'set', Key: 'a', Value: b64('1'), Flags: 7 } },
      { KV: { Verb: 'cas', Key: 'old', Value: b64('o2'), Index: oldIndex } },
      { KV: { Verb: 'lock', Key: 'l', Value: b64('held'), Session: sid } },
      { KV: { Verb: 'check-session', Key: 'l', Session: sid } },
      { KV: { Verb: 'get', Key: 'a' } },
      { KV: { Verb: 'check-not-exists', Key: 'nope' } },
      { KV: { Verb: 'delete-tree', Key: 'tree/' } },
      { KV: { Verb: 'get-tree', Key: 'tree/' } },
    ]);
    expect(r.status).toBe(200);
    const body = await json<{
      Results: Array<{
        KV: { Key: string; Value: string | null; ModifyIndex: number; Flags: number; Session?: string };
      }>;
      Errors: null;
    }>(r);
    expect(body.Errors).toBeNull();
    expect(body.Results.map((x) => x.KV.Key)).toEqual(['a', 'old', 'l', 'l', 'a']);
    expect(body.Results.map((x) => x.KV.Value)).toEqual([null, null, null, null, b64('1')]);
    expect(body.Results[0]?.KV.Flags).toBe(7);
    expect(body.Results[2]?.KV.Session).toBe(sid);
    const indexes = new Set(body.Results.slice(0, 3).map((x) => x.KV.ModifyIndex));
    expect(indexes.size).toBe(1);
    expect(Number(r.headers.get('X-Consul-Index'))).toBe([...indexes][0]);
    expect((await n.request('/v1/kv/tree/x')).status).toBe(404);
  });

  it('rolls back everything on any failure, answering 409 with every failed operation', async () => {
    const n = createTestNode();
    const sid = await ready(n);
    await put(n, '/v1/kv/exists', 'e');
    const before = dump(n);
    const r = await put(n, '/v1/txn', [
      { KV: { Verb: 'set', Key: 'new', Value: b64('n') } },
      { KV: { Verb: 'delete', Key: 'exists' } },
      { KV: { Verb: 'check-not-exists', Key: 'new' } },
      { KV: { Verb: 'cas', Key: 'exists', Value: b64('x'), Index: 999_999 } },
      { KV: { Verb: 'lock', Key: 'l', Session: '00000000-0000-4000-8000-00000000dead' } },
      { KV: { Verb: 'get', Key: 'missing' } },
      { KV: { Verb: 'unlock', Key: 'exists', Session: sid } },
    ]);
    expect(r.status).toBe(409);
    const body = await json<{ Results: null; Errors: Array<{ OpIndex: number; What: string }> }>(r);
    expect(body.Results).toBeNull();
    expect(body.Errors.map((e) => e.OpIndex)).toEqual([2, 3, 4, 5, 6]);
    expect(body.Errors[0]?.What).toBe('key "new" exists');
    expect(body.Errors[1]?.What).toMatch(/failed to set key "exists", index is stale/);
    expect(body.Errors[2]?.What).toBe('invalid session "00000000-0000-4000-8000-00000000dead"');
    expect(body.Errors[3]?.What).toBe('key "missing" doesn\'t exist');
    expect(body.Errors[4]?.What).toMatch(/failed to unlock key "exists"/);
    expect(dump(n)).toBe(before);
  });

  it('answers read-only transactions from state without a write, with query-meta headers', async () => {
    const n = createTestNode();
    await ready(n);
    await put(n, '/v1/kv/r', 'v');
    const applied = () => n.store.read((tx) => tx.get<number>(META_TABLE, 'applied'));
    const at = applied();
    const ok = await put(n, '/v1/txn?stale', [
      { KV: { Verb: 'get', Key: 'r' } },
      {
        KV: {
          Verb: 'check-index',
          Key: 'r',
          Index: (await json<Array<{ ModifyIndex: number }>>(n.request('/v1/kv/r')))[0]!.ModifyIndex,
        },
      },
    ]);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('X-Consul-Effective-Consistency')).toBe('stale');
    expect((await json<{ Results: Array<{ KV: { Value: string } }> }>(ok)).Results[0]?.KV.Value).toBe(b64('v'));
    const failed = await put(n, '/v1/txn', [{ KV: { Verb: 'check-index', Key: 'r', Index: 1 } }]);
    expect(failed.status).toBe(409);
    expect((await json<{ Errors: Array<{ What: string }> }>(failed)).Errors[0]?.What).toMatch(
      /^failed index check for key "r", current modify index \d+ != 1$/,
    );
    // The texts of Consul's state store (kvsCheckIndexTxn, kvsCheckSessionTxn) for absent keys.
    const absent = await put(n, '/v1/txn', [
      { KV: { Verb: 'check-index', Key: 'gone', Index: 1 } },
      { KV: { Verb: 'check-session', Key: 'gone', Session: 'x' } },
    ]);
    expect(absent.status).toBe(409);
    expect((await json<{ Errors: Array<{ What: string }> }>(absent)).Errors.map((e) => e.What)).toEqual([
      'failed to check index, key "gone" doesn\'t exist',
      'failed to check session, key "gone" doesn\'t exist',
    ]);
    expect(applied()).toBe(at);
  });

  it('applies Node, Service and Check verbs with the catalog', async () => {
    const n = createTestNode();
    await ready(n);
    const r = await put(n, '/v1/txn', [
      { Node: { Verb: 'set', Node: { Node: 'edge1', Address: '10.1.0.1', Meta: { zone: 'a' } } } },
      { Service: { Verb: 'set', Node: 'edge1', Service: { ID: 'mqtt1', Service: 'mqtt', Port: 1883 } } },
      {
        Check: {
          Verb: 'set',
          Check: { Node: 'edge1', CheckID: 'mqtt-alive', Name: 'alive', Status: 'passing', ServiceID: 'mqtt1' },
        },
      },
      { KV: { Verb: 'set', Key: 'edge/edge1', Value: b64('registered') } },
    ]);
    expect(r.status, await r.clone().text()).toBe(200);
    const body = await json<{ Results: Array<Record<string, { ModifyIndex: number }>> }>(r);
    expect(body.Results.map((x) => Object.keys(x)[0])).toEqual(['Node', 'Service', 'Check', 'KV']);
    const health = await json<Array<{ Service: { ID: string }; Checks: Array<{ CheckID: string }> }>>(
      n.request('/v1/health/service/mqtt'),
    );
    expect(health[0]?.Service.ID).toBe('mqtt1');
    expect(health[0]?.Checks.map((c) => c.CheckID)).toEqual(['mqtt-alive']);
    // A service on a node that does not exist fails the whole transaction, KV included.
    const before = dump(n);
    const bad = await put(n, '/v1/txn', [
      { KV: { Verb: 'set', Key: 'edge/edge2', Value: b64('x') } },
      { Service: { Verb: 'set', Node: 'edge2', Service: { ID: 's', Service: 's' } } },
      { Node: { Verb: 'delete-cas', Node: { Node: 'edge1', ModifyIndex: 1 } } },
      { Node: { Verb: 'get', Node: { Node: 'ghost' } } },
    ]);
    expect(bad.status).toBe(409);
    expect((await json<{ Errors: Array<{ OpIndex: number; What: string }> }>(bad)).Errors).toEqual([
      { OpIndex: 1, What: 'node "edge2" doesn\'t exist' },
      { OpIndex: 2, What: 'failed to delete node "edge1", index is stale' },
      { OpIndex: 3, What: 'node "ghost" doesn\'t exist' },
    ]);
    expect(dump(n)).toBe(before);
    const del = await put(n, '/v1/txn', [
      { Service: { Verb: 'delete', Node: 'edge1', Service: { ID: 'mqtt1' } } },
      { Check: { Verb: 'get', Check: { Node: 'edge1', CheckID: 'mqtt-alive' } } },
    ]);
    expect(del.status).toBe(409);
    expect((await json<{ Errors: Array<{ What: string }> }>(del)).Errors[0]?.What).toMatch(
      /check "mqtt-alive" on node "edge1" doesn't exist/,
    );
  });

  it('refuses malformed bodies with 400 and too many operations with 413', async () => {
    const n = createTestNode({ limits: { txnMaxOps: 4 } });
    const cases: Array<[unknown, RegExp]> = [
      ['{', /not valid JSON/],
      [{ KV: {} }, /JSON array/],
      [[], /at least one operation/],
      [[{}], /exactly one of KV, Node, Service, Check/],
      [[{ KV: { Verb: 'set', Key: 'a' }, Node: { Verb: 'get' } }], /exactly one/],
      [[{ Queue: { Verb: 'get' } }], /unknown operation type "Queue"/],
      [[{ KV: { Verb: 'explode', Key: 'a' } }], /Invalid operation 0.KV.Verb "explode"/],
      [[{ KV: { Verb: 'set', Key: '' } }], /Missing key name/],
      [[{ KV: { Verb: 'set', Key: 'a', Value: 'not base64!' } }], /not valid base64/],
      [[{ KV: { Verb: 'set', Key: 'a', Flags: -1 } }], /Flags/],
      [[{ KV: { Verb: 'cas', Key: 'a', Index: 'x' } }], /Index/],
      [[{ KV: { Verb: 'lock', Key: 'a' } }], /needs a Session/],
      [[{ Node: { Verb: 'set', Node: { Node: 'bad/name' } } }], /Invalid operation 0.Node.Node.Node/],
    ];
    for (const [body, message] of cases) {
      const r = await put(n, '/v1/txn', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(await r.text()).toMatch(message);
    }
    const many = Array.from({ length: 5 }, (_, i) => ({ KV: { Verb: 'set', Key: `k${i}` } }));
    const r = await put(n, '/v1/txn', many);
    expect(r.status).toBe(413);
    expect(await r.text()).toMatch(/too many operations \(5 > 4\)/);
    expect((await put(n, '/v1/txn', many.slice(0, 4))).status).toBe(200);
    const small = createTestNode({ limits: { kvMaxValueBytes: 2 } });
    const big = await put(small, '/v1/txn', [{ KV: { Verb: 'set', Key: 'big', Value: btoa('abc') } }]);
    expect(big.status).toBe(413);
    expect((await big.text()).trimEnd()).toBe('Value for key "big" is too large (3 > 2 bytes)');
  });
});

describe('PUT /v1/txn properties', () => {
  const keys = ['a', 'b', 'c', 'd/1', 'd/2'];
  const keyArb = fc.constantFrom(...keys);
  const valueArb = fc.constantFrom('', 'x', 'y');
  /** Operations; `idx` picks an index seen in the initial state (or a stale one). */
  const opArb = fc.oneof(
    fc.record({ Verb: fc.constant('set'), Key: keyArb, Value: valueArb }),
    fc.record({ Verb: fc.constant('cas'), Key: keyArb, Value: valueArb, idx: fc.nat(8) }),
    fc.record({ Verb: fc.constant('lock'), Key: keyArb, Value: valueArb, s: fc.nat(2) }),
    fc.record({ Verb: fc.constant('unlock'), Key: keyArb, Value: valueArb, s: fc.nat(2) }),
    fc.record({ Verb: fc.constant('delete'), Key: keyArb }),
    fc.record({ Verb: fc.constant('delete-cas'), Key: keyArb, idx: fc.nat(8) }),
    fc.record({ Verb: fc.constant('delete-tree'), Key: fc.constantFrom('d/', 'a', '') }),
    fc.record({ Verb: fc.constant('get'), Key: keyArb }),
    fc.record({ Verb: fc.constant('check-index'), Key: keyArb, idx: fc.nat(8) }),
    fc.record({ Verb: fc.constant('check-session'), Key: keyArb, s: fc.nat(2) }),
    fc.record({ Verb: fc.constant('check-not-exists'), Key: keyArb }),
  );
  const initArb = fc.array(fc.record({ key: keyArb, value: valueArb, lock: fc.nat(2) }), { maxLength: 6 });

  /**
   * Builds a node with sessions s0, s1 (s2: unknown) and the initial keys; returns the sessions and the
   * indexes seen.
   */
  async function build(init: Array<{ key: string; value: string; lock: number }>) {
    const n = createTestNode();
    const s0 = await ready(n);
    const s1 = (await json<{ ID: string }>(put(n, '/v1/session/create', { LockDelay: '0s' }))).ID;
    const sessions = [s0, s1, '00000000-0000-4000-8000-0000000000ff'];
    for (const i of init) await put(n, `/v1/kv/${i.key}${i.lock < 2 ? `?acquire=${sessions[i.lock]}` : ''}`, i.value);
    const seen = n.store.read((tx) => [...tx.range<{ modifyIndex: number }>('kv')].map(([, r]) => r.modifyIndex));
    return { n, sessions, seen };
  }

  function toTxn(op: Record<string, unknown>, sessions: string[], seen: number[]) {
    const idx =
      typeof op['idx'] === 'number' ? (seen[op['idx'] as number] ?? (op['idx'] as number) + 1_000) : undefined;
    return {
      KV: {
        Verb: op['Verb'],
        Key: op['Key'],
        ...(typeof op['Value'] === 'string' && op['Value'] !== '' ? { Value: b64(op['Value'] as string) } : {}),
        ...(idx !== undefined ? { Index: idx } : {}),
        ...(typeof op['s'] === 'number' ? { Session: sessions[op['s'] as number] } : {}),
      },
    };
  }

  /** The same operation as individual KV API calls; resolves whether it succeeded. */
  async function oneByOne(n: TestNode, op: { KV: Record<string, unknown> }): Promise<boolean> {
    const o = op.KV;
    const key = o['Key'] as string;
    const body = o['Value'] ? Buffer.from(o['Value'] as string, 'base64').toString() : '';
    const got = async () => {
      const r = await n.request(`/v1/kv/${key}`);
      return r.status === 200 ? (await json<Array<{ ModifyIndex: number; Session?: string }>>(r))[0] : undefined;
    };
    switch (o['Verb']) {
      case 'set':
        return (await json(put(n, `/v1/kv/${key}`, body))) === true;
      case 'cas':
        return (await json(put(n, `/v1/kv/${key}?cas=${o['Index']}`, body))) === true;
      case 'lock': {
        const r = await put(n, `/v1/kv/${key}?acquire=${o['Session']}`, body);
        return r.status === 200 && (await r.json()) === true;
      }
      case 'unlock':
        return (await json(put(n, `/v1/kv/${key}?release=${o['Session']}`, body))) === true;
      case 'delete':
        return (await json(n.request(`/v1/kv/${key}`, { method: 'DELETE' }))) === true;
      case 'delete-cas':
        return (await json(n.request(`/v1/kv/${key}?cas=${o['Index']}`, { method: 'DELETE' }))) === true;
      case 'delete-tree':
        return (await json(n.request(`/v1/kv/${key}?recurse`, { method: 'DELETE' }))) === true;
      case 'get':
        return (await got()) !== undefined;
      case 'check-index':
        return (await got())?.ModifyIndex === o['Index'];
      case 'check-session': {
        const e = await got();
        return e !== undefined && (e.Session ?? '') === o['Session'];
      }
      case 'check-not-exists':
        return (await got()) === undefined;
    }
    throw new Error(`verb ${String(o['Verb'])}`);
  }

  const kvView = (n: TestNode) =>
    n.store.read((tx) =>
      JSON.stringify(
        [...tx.range<{ value: Uint8Array; flags: string; session?: string; lockIndex: number }>('kv')].map(([k, r]) => [
          k,
          [...r.value],
          r.flags,
          r.session ?? '',
          r.lockIndex,
        ]),
      ),
    );

  const title =
    'a transaction commits exactly when every operation would succeed in order, with the same result; ' +
    'otherwise nothing changes';
  it(title, async () => {
    await fc.assert(
      fc.asyncProperty(initArb, fc.array(opArb, { minLength: 1, maxLength: 5 }), async (init, ops) => {
        const a = await build(init);
        const b = await build(init);
        const txn = ops.map((op) => toTxn(op, a.sessions, a.seen));
        const before = dump(a.n);
        const r = await put(a.n, '/v1/txn', txn);
        let allOk = true;
        for (const op of txn) if (!(await oneByOne(b.n, op))) allOk = false;
        if (allOk) {
          expect(r.status).toBe(200);
          expect(kvView(a.n)).toBe(kvView(b.n));
        } else {
          expect(r.status).toBe(409);
          expect(dump(a.n)).toBe(before);
        }
      }),
      { seed: propertySeed('txn all-or-nothing'), numRuns: 200 },
    );
  });
});

describe('PUT /v1/txn with an idempotency key', () => {
  it('applies a transaction once; a repeat gets the first outcome without applying again', async () => {
    const n = createTestNode();
    const body = [{ KV: { Verb: 'cas', Key: 'counter', Value: b64('1'), Index: 0 } }];
    const headers = { 'X-Konsul-Idempotency-Key': 'edge1:42' };
    const first = await n.request('/v1/txn', { method: 'PUT', body: JSON.stringify(body), headers });
    expect(first.status).toBe(200);
    expect(first.headers.get('X-Konsul-Idempotent-Replay')).toBeNull();
    const index = (await json<{ Results: Array<{ KV: { ModifyIndex: number } }> }>(first)).Results[0]?.KV.ModifyIndex;
    // Without the key the same cas now fails; with it, the first success is answered again.
    expect((await put(n, '/v1/txn', body)).status).toBe(409);
    const again = await n.request('/v1/txn', { method: 'PUT', body: JSON.stringify(body), headers });
    expect(again.status).toBe(200);
    expect(again.headers.get('X-Konsul-Idempotent-Replay')).toBe(String(index));
    expect((await json<{ Results: Array<{ KV: { ModifyIndex: number } }> }>(again)).Results[0]?.KV.ModifyIndex).toBe(
      index,
    );
    // A failed transaction's outcome is remembered too.
    const conflict = { 'X-Konsul-Idempotency-Key': 'edge1:43' };
    expect((await n.request('/v1/txn', { method: 'PUT', body: JSON.stringify(body), headers: conflict })).status).toBe(
      409,
    );
    await n.request('/v1/kv/counter', { method: 'DELETE' });
    const replayed = await n.request('/v1/txn', { method: 'PUT', body: JSON.stringify(body), headers: conflict });
    expect(replayed.status).toBe(409);
    expect((await n.request('/v1/kv/counter')).status).toBe(404);
    expect(
      (
        await n.request('/v1/txn', {
          method: 'PUT',
          body: JSON.stringify(body),
          headers: { 'X-Konsul-Idempotency-Key': 'bad key!' },
        })
      ).status,
    ).toBe(400);
  });
});
