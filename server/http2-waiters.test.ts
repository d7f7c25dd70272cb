import { type ClientHttp2Session, connect } from 'node:http2';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../testing/process.js';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';

afterAll(cleanupAll);

const WAITERS = 200;
const KEYS = 20;

/** The server's gauges by name (GET /v1/agent/metrics over HTTP/1.1). */
async function gauges(url: string): Promise<Record<string, number>> {
  const json = (await (await fetch(`${url}/v1/agent/metrics`)).json()) as {
    Gauges: Array<{ Name: string; Value: number }>;
  };
  return Object.fromEntries(json.Gauges.map((g) => [g.Name, g.Value]));
}

describe('blocking queries over h2c on a real server', () => {
  it('200 on one connection: wakes only the affected, frees all when the client goes, 503 past the limit', async () => {
    const s = await spawnServer({ args: ['--max-blocking-queries', String(WAITERS)] });
    const put = (key: string, value: string) => fetch(`${s.url}/v1/kv/${key}`, { method: 'PUT', body: value });
    for (let k = 0; k < KEYS; k++) expect((await put(`h2/k${k}`, 'a')).status).toBe(200);
    // The highest ModifyIndex under h2/: every key's blocking query waits past it.
    const index = Number((await fetch(`${s.url}/v1/kv/h2/?recurse`)).headers.get('x-consul-index'));
    const session: ClientHttp2Session = connect(s.url);
    session.on('error', () => undefined);
    try {
      const answers: Array<{ key: number; status: number; index: number } | undefined> = [];
      for (let i = 0; i < WAITERS; i++) {
        const st = session.request({ ':path': `/v1/kv/h2/k${i % KEYS}?index=${index}&wait=5m` });
        st.on('response', (h) => {
          answers[i] = { key: i % KEYS, status: Number(h[':status']), index: Number(h['x-consul-index']) };
        });
        st.on('error', () => undefined);
        st.resume();
        st.end();
      }
      let g = await until(
        'all streams waiting',
        () => gauges(s.url),
        (v) => v['konsul_blocking_queries_waiting'] === WAITERS,
      );
      expect(g['konsul_http2_sessions_open']).toBe(1);
      expect(g['konsul_http2_streams_open']).toBe(WAITERS);
      // One more, over HTTP/1.1 on the same port: the limit answers 503 with Retry-After.
      const over = await fetch(`${s.url}/v1/kv/h2/k0?index=${index}&wait=5m`);
      expect(over.status).toBe(503);
      expect(over.headers.get('retry-after')).toBe('1');
      const wakeupsBefore = g['konsul_blocking_query_wakeups'] ?? 0;

      expect((await put('h2/k3', 'b')).status).toBe(200);
      await until(
        'the affected streams',
        () => Promise.resolve(answers.filter((a) => a !== undefined).length),
        (n) => n === WAITERS / KEYS,
      );
      expect(
        answers.filter((a) => a !== undefined).every((a) => a?.key === 3 && a.status === 200 && a.index > index),
      ).toBe(true);
      g = await gauges(s.url);
      expect(g['konsul_blocking_queries_waiting']).toBe(WAITERS - WAITERS / KEYS);
      expect((g['konsul_blocking_query_wakeups'] ?? 0) - wakeupsBefore).toBe(WAITERS / KEYS);

      // The client goes away: every waiting query ends and frees its place.
      session.destroy();
      await until(
        'waiters to be freed',
        () => gauges(s.url),
        (v) => v['konsul_blocking_queries_waiting'] === 0,
      );
    } finally {
      session.destroy();
      await s.stop();
    }
  });
});
