import { describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../testing/harness.js';
import { createTsHotPaths } from '../../hotpaths/ts-hot-paths.js';
import { readArchive } from '../../snapshot/archive.js';
import { parseDump } from '../../snapshot/state-snapshot.js';
import { KV_TABLE } from '../../kv/types.js';
import type { KvRecord } from '../../kv/types.js';
import { SNAPSHOT_ROWS_PER_SLICE, SNAPSHOT_TABLES } from './snapshot.js';

const put = (n: TestNode, key: string, value: string) => n.request(`/v1/kv/${key}`, { method: 'PUT', body: value });

/** Resolves `p` while firing the node's zero-delay timers (the slices of a snapshot build). */
async function settle<T>(n: TestNode, p: Promise<T>, between: () => Promise<void>): Promise<T> {
  let done = false;
  void p.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    await between();
    n.clock.advance(0);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return p;
}

describe('GET /v1/snapshot', () => {
  it('writes commit while the archive is built, and the archive is the state at the index it names', async () => {
    const n = createTestNode();
    const rows = SNAPSHOT_ROWS_PER_SLICE * 2 + 10;
    for (let i = 0; i < rows; i++) expect((await put(n, `k/${String(i).padStart(5, '0')}`, 'before')).status).toBe(200);
    const pending = n.request('/v1/snapshot');
    let writes = 0;
    const res = await settle(n, pending, async () => {
      // Change rows the build has not reached yet, delete some, add new ones: none may show.
      expect((await put(n, `k/${String(rows - 1 - writes).padStart(5, '0')}`, 'after')).status).toBe(200);
      expect((await n.request(`/v1/kv/k/${String(writes).padStart(5, '0')}`, { method: 'DELETE' })).status).toBe(200);
      expect((await put(n, `new/${writes}`, 'after')).status).toBe(200);
      writes++;
    });
    expect(res.status).toBe(200);
    // The build took several turns, and writes were applied between them.
    expect(writes).toBeGreaterThanOrEqual(2);
    const archive = new Uint8Array(await res.arrayBuffer());
    const { info, body } = readArchive(createTsHotPaths(), archive);
    expect(Number(res.headers.get('X-Consul-Index'))).toBe(info.index);
    const rowsOut = parseDump(body, SNAPSHOT_TABLES)[KV_TABLE] as Array<[string, KvRecord]>;
    expect(rowsOut.map(([k]) => k)).toEqual(Array.from({ length: rows }, (_, i) => `k/${String(i).padStart(5, '0')}`));
    const text = new TextDecoder();
    expect(new Set(rowsOut.map(([, r]) => text.decode(r.value)))).toEqual(new Set(['before']));
    expect(Math.max(...rowsOut.map(([, r]) => r.modifyIndex))).toBeLessThanOrEqual(info.index);
    // The store moved on meanwhile.
    expect((await n.request('/v1/kv/new/0')).status).toBe(200);
  });
});
