import { describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../testing/harness.js';
import { createSession as session, registerTwoPassingNodes as nodes } from '../../../testing/session-fixtures.js';

// Prepared queries bound to a session (their `Session`) end with it, whichever way it ends, in the
// command that ends it (Consul's deleteSessionTxn deletes them in the session's delete transaction).

const send = (n: TestNode, method: string, path: string, body?: unknown) =>
  n.request(path, {
    method,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
const json = async <T = unknown>(r: Response | Promise<Response>) => (await (await r).json()) as T;
const turn = () => new Promise((r) => setTimeout(r, 0));

interface Query {
  ID: string;
  Name: string;
  Session: string;
}

async function create(n: TestNode, query: unknown): Promise<string> {
  const r = await send(n, 'POST', '/v1/query', query);
  expect(r.status, await r.clone().text()).toBe(200);
  return (await json<{ ID: string }>(r)).ID;
}

/** The names (or IDs, for unnamed queries) of the stored queries, sorted. */
async function stored(n: TestNode): Promise<string[]> {
  const list = await json<Query[]>(send(n, 'GET', '/v1/query'));
  return list.map((q) => q.Name || q.ID).sort();
}

/** The session index in the stored prepared-query state (what deleting a query must clean too). */
function sessionIndexRows(n: TestNode): string[] {
  return n.store.read((tx) => [...tx.range('prepared_query_sessions')].map(([k]) => k.replace('\u0000', ' ')));
}

/** A query bound to `sid` named `name`, one unnamed, and one bound to nothing. */
async function bound(n: TestNode, sid: string, name: string): Promise<{ unnamed: string }> {
  await create(n, { Name: name, Session: sid, Service: { Service: 'web' } });
  const unnamed = await create(n, { Session: sid, Service: { Service: 'web' } });
  return { unnamed };
}

describe('prepared queries bound to a session', () => {
  it('destroying the session deletes its queries in the same command, wakes /v1/query, frees the names', async () => {
    const n = createTestNode();
    await nodes(n);
    const a = await session(n);
    const b = await session(n);
    const { unnamed } = await bound(n, a, 'bound-a');
    await create(n, { Name: 'bound-b', Session: b, Service: { Service: 'web' } });
    await create(n, { Name: 'free', Service: { Service: 'web' } });
    // A template bound to the session: its prefix index must go with it.
    await create(n, {
      Name: 'tpl-',
      Session: a,
      Template: { Type: 'name_prefix_match' },
      Service: { Service: '${name.suffix}' },
    });
    expect(await stored(n)).toEqual(['bound-a', 'bound-b', 'free', 'tpl-', unnamed].sort());
    expect((await send(n, 'GET', '/v1/query/tpl-web/explain')).status).toBe(200);

    const first = await send(n, 'GET', '/v1/query');
    const index = Number(first.headers.get('X-Consul-Index'));
    let woke = false;
    const blocked = send(n, 'GET', `/v1/query?index=${index}&wait=1m`).then((r) => {
      woke = true;
      return r;
    });
    for (let i = 0; i < 5; i++) await turn();
    expect(woke).toBe(false);

    expect(await json(send(n, 'PUT', `/v1/session/destroy/${a}`))).toBe(true);
    const r = await blocked;
    const after = Number(r.headers.get('X-Consul-Index'));
    expect(after).toBeGreaterThan(index);
    expect((await json<Query[]>(r)).map((q) => q.Name).sort()).toEqual(['bound-b', 'free']);
    // One command: the queries index moved to the index of the session's deletion.
    const sessions = await send(n, 'GET', '/v1/session/list');
    expect(Number(sessions.headers.get('X-Consul-Index'))).toBe(after);

    // Deleted as a normal delete: by ID, by name and by template prefix nothing is found ...
    expect((await send(n, 'GET', `/v1/query/${unnamed}`)).status).toBe(404);
    expect((await send(n, 'GET', '/v1/query/bound-a/execute')).status).toBe(404);
    expect((await send(n, 'GET', '/v1/query/tpl-web/explain')).status).toBe(404);
    // ... the name, the template prefix and the session index entries are free ...
    await create(n, { Name: 'BOUND-A', Service: { Service: 'web' } });
    await create(n, { Name: 'tpl-', Template: { Type: 'name_prefix_match' }, Service: { Service: 'x' } });
    expect(sessionIndexRows(n)).toEqual([expect.stringMatching(new RegExp(`^${b} `))]);
    // ... and a query can no longer be bound to the destroyed session (Consul's "invalid session").
    const late = await send(n, 'POST', '/v1/query', { Name: 'late', Session: a, Service: { Service: 'web' } });
    expect([late.status, await late.text()]).toEqual([500, expect.stringMatching(`^invalid session "${a}"`)]);
  });

  it('a session that expires on its TTL takes its queries with it', async () => {
    const n = createTestNode();
    await nodes(n);
    const sid = await session(n, { TTL: '10s' });
    await bound(n, sid, 'ttl-bound');
    await create(n, { Name: 'free', Service: { Service: 'web' } });
    n.clock.advance(20_000);
    for (let i = 0; i < 50 && (await stored(n)).length > 1; i++) await turn();
    expect(await json(send(n, 'GET', `/v1/session/info/${sid}`))).toEqual([]);
    expect(await stored(n)).toEqual(['free']);
    expect(sessionIndexRows(n)).toEqual([]);
  });

  it('a bound check going critical, a check removed, or the node leaving deletes the queries', async () => {
    const n = createTestNode();
    await nodes(n);
    const byCheck = await session(n, { Node: 'n2', NodeChecks: [], ServiceChecks: [{ ID: 'web-http' }] });
    const byRemovedCheck = await session(n, { Node: 'n2' }); // bound to serfHealth
    const byNode = await session(n, { Node: 'n2', NodeChecks: [] }); // bound to no check
    const elsewhere = await session(n); // on node 'test'
    await create(n, { Name: 'q-check', Session: byCheck, Service: { Service: 'web' } });
    await create(n, { Name: 'q-removed', Session: byRemovedCheck, Service: { Service: 'web' } });
    await create(n, { Name: 'q-node', Session: byNode, Service: { Service: 'web' } });
    await create(n, { Name: 'q-elsewhere', Session: elsewhere, Service: { Service: 'web' } });
    await create(n, { Name: 'q-free', Service: { Service: 'web' } });
    const all = ['q-check', 'q-elsewhere', 'q-free', 'q-node', 'q-removed'];

    // A warning does not invalidate the session; critical does.
    const status = (Status: string) =>
      send(n, 'PUT', '/v1/catalog/register', {
        Node: 'n2',
        Address: '10.0.0.1',
        Check: { CheckID: 'web-http', ServiceID: 'web', Status },
      });
    await status('warning');
    expect(await stored(n)).toEqual(all);
    await status('critical');
    expect(await stored(n)).toEqual(all.filter((q) => q !== 'q-check'));

    await send(n, 'PUT', '/v1/catalog/deregister', { Node: 'n2', CheckID: 'serfHealth' });
    expect(await stored(n)).toEqual(['q-elsewhere', 'q-free', 'q-node']);

    await send(n, 'PUT', '/v1/catalog/deregister', { Node: 'n2' });
    expect(await stored(n)).toEqual(['q-elsewhere', 'q-free']);
    expect(await json(send(n, 'GET', '/v1/session/node/n2'))).toEqual([]);
    expect(sessionIndexRows(n)).toEqual([expect.stringMatching(new RegExp(`^${elsewhere} `))]);
  });

  it('catalog operations in a transaction end sessions and their queries too', async () => {
    const n = createTestNode();
    await nodes(n);
    const byCheck = await session(n, { Node: 'n2', NodeChecks: [], ServiceChecks: [{ ID: 'web-http' }] });
    const byNode = await session(n, { Node: 'n2', NodeChecks: [] });
    await create(n, { Name: 'q-check', Session: byCheck, Service: { Service: 'web' } });
    await create(n, { Name: 'q-node', Session: byNode, Service: { Service: 'web' } });
    await create(n, { Name: 'q-free', Service: { Service: 'web' } });

    const critical = await send(n, 'PUT', '/v1/txn', [
      {
        Check: {
          Verb: 'set',
          Check: { Node: 'n2', CheckID: 'web-http', Name: 'web', ServiceID: 'web', Status: 'critical' },
        },
      },
    ]);
    expect(critical.status, await critical.clone().text()).toBe(200);
    expect(await stored(n)).toEqual(['q-free', 'q-node']);

    // A transaction that fails changes nothing: the session and its query stay.
    const failed = await send(n, 'PUT', '/v1/txn', [
      { Node: { Verb: 'delete', Node: { Node: 'n2' } } },
      { KV: { Verb: 'check-not-exists', Key: 'k' } },
      { KV: { Verb: 'set', Key: 'k', Value: btoa('v') } },
      { KV: { Verb: 'check-not-exists', Key: 'k' } },
    ]);
    expect(failed.status).toBe(409);
    expect(await stored(n)).toEqual(['q-free', 'q-node']);

    const gone = await send(n, 'PUT', '/v1/txn', [{ Node: { Verb: 'delete', Node: { Node: 'n2' } } }]);
    expect(gone.status, await gone.clone().text()).toBe(200);
    expect(await stored(n)).toEqual(['q-free']);
    expect(sessionIndexRows(n)).toEqual([]);
  });

  it('follows the session an update binds it to, and outlives a session it is no longer bound to', async () => {
    const n = createTestNode();
    await nodes(n);
    const a = await session(n);
    const b = await session(n);
    const id = await create(n, { Name: 'moving', Session: a, Service: { Service: 'web' } });
    const rebind = await send(n, 'PUT', `/v1/query/${id}`, { Name: 'moving', Session: b, Service: { Service: 'web' } });
    expect(rebind.status).toBe(200);
    await send(n, 'PUT', `/v1/session/destroy/${a}`);
    expect(await stored(n)).toEqual(['moving']);

    const unbind = await send(n, 'PUT', `/v1/query/${id}`, { Name: 'moving', Service: { Service: 'web' } });
    expect(unbind.status).toBe(200);
    await send(n, 'PUT', `/v1/session/destroy/${b}`);
    expect(await stored(n)).toEqual(['moving']);
    expect(sessionIndexRows(n)).toEqual([]);

    // Deleting a bound query by hand cleans its session index entry; the session lives on.
    const c = await session(n);
    const byHand = await create(n, { Name: 'by-hand', Session: c, Service: { Service: 'web' } });
    expect(sessionIndexRows(n)).toHaveLength(1);
    expect((await send(n, 'DELETE', `/v1/query/${byHand}`)).status).toBe(200);
    expect(sessionIndexRows(n)).toEqual([]);
    expect(await json<unknown[]>(send(n, 'GET', `/v1/session/info/${c}`))).toHaveLength(1);
  });

  it('a snapshot keeps the binding: after a restore the session still takes its queries', async () => {
    const n = createTestNode();
    await nodes(n);
    const sid = await session(n);
    await create(n, { Name: 'snap-bound', Session: sid, Service: { Service: 'web' } });
    await create(n, { Name: 'free', Service: { Service: 'web' } });
    const saved = new Uint8Array(await (await send(n, 'GET', '/v1/snapshot')).arrayBuffer());
    await send(n, 'PUT', `/v1/session/destroy/${sid}`);
    expect(await stored(n)).toEqual(['free']);
    expect((await n.request('/v1/snapshot', { method: 'PUT', body: saved })).status).toBe(200);
    expect(await stored(n)).toEqual(['free', 'snap-bound']);
    await send(n, 'PUT', `/v1/session/destroy/${sid}`);
    expect(await stored(n)).toEqual(['free']);
  });
});
