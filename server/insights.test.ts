import { createServer, type Server } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts, TestClusterProcesses } from '../testing/cluster-harness.js';
import { until } from '../testing/process.js';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';

let cluster: TestClusterProcesses | undefined;
let app: Server | undefined;
afterAll(async () => {
  app?.close();
  await cluster?.stopAll();
  await cleanupAll();
});

type Finding = Record<string, unknown>;
const put = (url: string, body?: unknown) =>
  fetch(url, { method: 'PUT', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
const insightsAt = async (base: string): Promise<Finding[]> =>
  (await (await fetch(`${base}/v1/operator/insights`)).json()) as Finding[];

/** The `konsul-insight` user events kept, their payloads decoded. */
async function insightEvents(base: string): Promise<Array<Record<string, unknown>>> {
  const list = (await (await fetch(`${base}/v1/event/list?name=konsul-insight`)).json()) as Array<{
    Payload: string | null;
  }>;
  return list.map(
    (e) => JSON.parse(Buffer.from(e.Payload ?? '', 'base64').toString('utf8')) as Record<string, unknown>,
  );
}

describe('insights', () => {
  it('name checks made to flap (service and node checks), count them, and announce them as events', async () => {
    const s = await spawnServer({ args: ['--insights-interval', '300'] });
    const node = ((await (await fetch(`${s.url}/v1/agent/self`)).json()) as { Config: { NodeName: string } }).Config
      .NodeName;
    // A watch stream of the insight events, open before anything happens.
    const watch = new AbortController();
    const stream = await fetch(`${s.url}/v1/watch/events?name=konsul-insight`, { signal: watch.signal });
    expect(stream.status).toBe(200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let streamed = '';
    const reading = (async () => {
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) return;
        streamed += new TextDecoder().decode(value);
      }
    })();
    try {
      const register = await put(`${s.url}/v1/agent/service/register`, {
        Name: 'web',
        ID: 'web-1',
        Port: 80,
        Check: { CheckID: 'flappy', TTL: '60s' },
      });
      expect(register.status).toBe(200);
      // A node check: no service instance carries it.
      expect(
        (await put(`${s.url}/v1/agent/check/register`, { CheckID: 'node-flappy', Name: 'n', TTL: '60s' })).status,
      ).toBe(200);
      expect(await insightsAt(s.url)).toEqual([]);
      // A TTL check starts critical: pass, fail, pass, fail is four changes.
      for (const verb of ['pass', 'fail', 'pass', 'fail'])
        for (const check of ['flappy', 'node-flappy'])
          expect((await put(`${s.url}/v1/agent/check/${verb}/${check}`)).status).toBe(200);
      const found = await until(
        'both flapping checks to be found',
        () => insightsAt(s.url),
        (f) => f.filter((x) => x['Kind'] === 'flapping_check').length === 2,
        10_000,
      );
      for (const check of ['flappy', 'node-flappy']) {
        const flap = found.find((x) => x['Subject'] === `${node}/${check}`) as Finding;
        expect(flap).toMatchObject({ Kind: 'flapping_check', Figure: 4, Baseline: 4, Window: '10m0s' });
        expect(String(flap['Message'])).toMatch(/changed status 4 times in 10m0s .*now critical/);
      }
      const text = await (await fetch(`${s.url}/v1/agent/metrics?format=prometheus`)).text();
      expect(text).toMatch(/^konsul_insights_findings\{kind="flapping_check"\} 2$/m);
      expect(text).toMatch(/^konsul_insights_findings\{kind="write_rate"\} 0$/m);

      // Each finding is announced once, as a user event (the leader announces these kinds).
      const events = await until(
        'the findings to be announced',
        () => insightEvents(s.url),
        (e) => e.length === 2,
        10_000,
      );
      expect(events.map((e) => e['Subject']).sort()).toEqual([`${node}/flappy`, `${node}/node-flappy`]);
      for (const e of events)
        expect(e).toMatchObject({ Kind: 'flapping_check', State: 'found', Figure: 4, Window: '10m0s', Server: node });
      // The watch stream saw them as they were fired.
      await until(
        'the watch stream to carry both events',
        async () => streamed,
        (t) => (t.match(/"Name":"konsul-insight"/g) ?? []).length === 2,
        10_000,
      );
      // Deregistering a check ends its finding, and that is announced too.
      expect((await put(`${s.url}/v1/agent/check/deregister/node-flappy`)).status).toBe(200);
      const after = await until(
        'the resolution to be announced',
        () => insightEvents(s.url),
        (e) => e.length === 3,
        10_000,
      );
      expect(after[2]).toMatchObject({ Subject: `${node}/node-flappy`, State: 'resolved' });
      expect((await insightsAt(s.url)).map((f) => f['Subject'])).toEqual([`${node}/flappy`]);
    } finally {
      watch.abort();
      await reading;
      await s.stop();
    }
  });

  it("gather a follower's slow check probes into the leader's answer, with the server that found them", async () => {
    // The checked application: answers at once until told to take 300 ms.
    let delayMs = 0;
    app = createServer((_req, res) => {
      setTimeout(() => res.end('ok'), delayMs);
    });
    const [appPort] = await freePorts(1);
    await new Promise<void>((resolve) => app?.listen(appPort, '127.0.0.1', resolve));
    cluster = await TestClusterProcesses.start(3, ['--insights-interval', '300']);
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    const register = await put(`http://${follower.http}/v1/agent/check/register`, {
      CheckID: 'slow-app',
      Name: 'app',
      HTTP: `http://127.0.0.1:${appPort}/`,
      Interval: '1s',
    });
    expect(register.status).toBe(200);
    // Ten probes make the check's baseline (counted by the follower); then the application slows down.
    await until(
      'the follower to probe the check ten times',
      async () => (await fetch(`http://${follower.http}/v1/agent/metrics?format=prometheus`)).text(),
      (t) => Number(/^konsul_check_runs_total\{type="http",status="passing"\} (\d+)$/m.exec(t)?.[1] ?? 0) >= 11,
      20_000,
    );
    expect(await insightsAt(`http://${leader.http}`)).toEqual([]);
    delayMs = 300;
    // Asked of any server, the leader answers, with the follower's local findings gathered.
    const found = await until(
      'the slow probes to be found',
      () => insightsAt(`http://${cluster!.members.find((m) => m !== leader && m !== follower)!.http}`),
      (f) => f.some((x) => x['Kind'] === 'check_latency'),
      15_000,
    );
    const slow = found.find((x) => x['Kind'] === 'check_latency') as Finding;
    expect(slow).toMatchObject({ Subject: `${follower.name}/slow-app`, Server: follower.name, Window: '1s' });
    expect(slow['Figure']).toBeGreaterThanOrEqual(0.3);
    expect(slow['Baseline']).toBeLessThan(0.1);
    expect(String(slow['Message'])).toMatch(
      /^check \S+\/slow-app took \d+(\.\d)?ms on its last \d+ probes \(every 1s\)/,
    );
    // The follower announced it itself.
    const events = await until(
      'the follower to announce it',
      () => insightEvents(`http://${leader.http}`),
      (e) => e.some((x) => x['Kind'] === 'check_latency'),
      10_000,
    );
    expect(events.find((x) => x['Kind'] === 'check_latency')).toMatchObject({
      Subject: `${follower.name}/slow-app`,
      State: 'found',
      Server: follower.name,
    });
    // What the follower sees alone is at /v1/internal/insights.
    const local = (await (await fetch(`http://${follower.http}/v1/internal/insights`)).json()) as Finding[];
    expect(local.map((f) => f['Kind'])).toContain('check_latency');
  });

  it('flag an edge agent whose sync stream falls further and further behind', async () => {
    const s = await spawnServer({ args: ['--insights-interval', '300'] });
    // An "agent" that names itself and never reads its stream.
    const stalled = new AbortController();
    const res = await fetch(`${s.url}/v1/edge/sync?prefix=bulk/&agent=stalled-agent`, { signal: stalled.signal });
    expect(res.status).toBe(200);
    let writing = true;
    try {
      const value = Buffer.alloc(16 * 1024, 'x').toString('base64');
      const writer = (async () => {
        for (let i = 0; writing && i < 400; i++) {
          const ops = Array.from({ length: 16 }, (_, j) => ({
            KV: { Verb: 'set', Key: `bulk/${i}/${j}`, Value: value },
          }));
          const r = await put(`${s.url}/v1/txn`, ops);
          expect(r.status).toBe(200);
        }
      })();
      const found = await until(
        'the stalled agent to be found',
        () => insightsAt(s.url),
        (f) => f.some((x) => x['Kind'] === 'edge_lag'),
        60_000,
      );
      writing = false;
      await writer;
      const lag = found.find((x) => x['Kind'] === 'edge_lag') as Finding;
      expect(lag['Subject']).toBe('stalled-agent');
      expect(lag['Figure']).toBeGreaterThanOrEqual(1000);
      expect(lag['Figure'] as number).toBeGreaterThan(lag['Baseline'] as number);
      const text = await (await fetch(`${s.url}/v1/agent/metrics?format=prometheus`)).text();
      expect(text).toMatch(/^konsul_edge_sync_streams_named 1$/m);
      expect(Number(/^konsul_edge_sync_lag_max (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(1000);
    } finally {
      writing = false;
      stalled.abort();
      await s.stop();
    }
  });
});
