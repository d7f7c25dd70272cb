import dgram from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import client from 'prom-client';
import { until } from '../testing/process.js';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';
import { promMetrics } from '../runtimes/prom-metrics.js';
import { ServerMetrics } from './metrics.js';

afterAll(cleanupAll);

/** The value of `name{labels}` in a Prometheus text exposition (labels as written there), or undefined. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('the Metrics port over prom-client', () => {
  it('makes each instrument once, lets the newest collect function report, and times in seconds', async () => {
    const registry = new client.Registry();
    const m = promMetrics(registry);
    const c = m.counter('t_total', 'test', ['kind']);
    expect(m.counter('t_total', 'test', ['kind'])).toBe(c);
    c.inc({ kind: 'a' });
    c.inc({ kind: 'a' }, 2);
    let source = 1;
    m.gauge('t_gauge', 'test', [], () => source);
    m.gauge('t_gauge', 'test', [], () => source * 10);
    m.gauge('t_series', 'test', ['peer'], () => [
      [{ peer: 'x' }, 3],
      [{ peer: 'y' }, 4],
    ]);
    const h = m.histogram('t_seconds', 'test', [0.5, 5], ['op']);
    const end = h.startTimer({ op: 'wait' });
    await new Promise((r) => setTimeout(r, 20));
    const took = end();
    expect(took).toBeGreaterThanOrEqual(0.015);
    expect(took).toBeLessThan(5);
    source = 2;
    const text = await registry.metrics();
    expect(sample(text, 't_total', 'kind="a"')).toBe(3);
    expect(sample(text, 't_gauge')).toBe(20);
    expect(sample(text, 't_series', 'peer="y"')).toBe(4);
    expect(sample(text, 't_seconds_count', 'op="wait"')).toBe(1);
    expect(sample(text, 't_seconds_bucket', 'le="5",op="wait"')).toBe(1);
  });

  it("answers Consul's JSON shape: gauges, counters, and histograms as samples with count, sum and mean", async () => {
    const metrics = new ServerMetrics();
    const h = metrics.port.histogram('konsul_test_seconds', 'test', [1, 10]);
    h.observe(2);
    h.observe(4);
    metrics.port.counter('konsul_test_total', 'test').inc(undefined, 5);
    metrics.port.gauge('konsul_test_gauge', 'test', [], () => 7);
    const json = (await metrics.json()) as {
      Gauges: Array<{ Name: string; Value: number }>;
      Counters: Array<{ Name: string; Count: number }>;
      Samples: Array<{ Name: string; Count: number; Sum: number; Mean: number }>;
    };
    expect(json.Samples.find((s) => s.Name === 'konsul_test_seconds')).toMatchObject({ Count: 2, Sum: 6, Mean: 3 });
    expect(json.Counters.find((s) => s.Name === 'konsul_test_total')).toMatchObject({ Count: 5 });
    expect(json.Gauges.find((s) => s.Name === 'konsul_test_gauge')).toMatchObject({ Value: 7 });
  });
});

describe('a server’s metrics', () => {
  it('report Raft, HTTP by route template (never the key) and process figures after real requests', async () => {
    const s = await spawnServer();
    try {
      const writes = 12;
      for (let i = 0; i < writes; i++) {
        const res = await fetch(`${s.url}/v1/kv/secret-key-name/${i}`, { method: 'PUT', body: `v${i}` });
        expect(res.status).toBe(200);
      }
      expect((await fetch(`${s.url}/v1/kv/secret-key-name/0`)).status).toBe(200);
      expect((await fetch(`${s.url}/v1/kv/secret-key-name/missing`)).status).toBe(404);
      const text = await (await fetch(`${s.url}/v1/agent/metrics?format=prometheus`)).text();
      expect(text).not.toContain('secret-key-name');
      expect(sample(text, 'konsul_raft_state', 'state="leader"')).toBe(1);
      expect(sample(text, 'konsul_raft_state', 'state="follower"')).toBe(0);
      expect(sample(text, 'konsul_raft_term')).toBeGreaterThanOrEqual(1);
      const applied = sample(text, 'konsul_raft_applied_index') as number;
      expect(applied).toBeGreaterThanOrEqual(writes);
      expect(sample(text, 'konsul_raft_commit_index')).toBeGreaterThanOrEqual(applied);
      expect(sample(text, 'konsul_raft_last_index')).toBeGreaterThanOrEqual(applied);
      expect(sample(text, 'konsul_raft_leader_changes_total')).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'konsul_raft_commit_seconds_count')).toBeGreaterThanOrEqual(writes);
      expect(sample(text, 'konsul_raft_apply_seconds_count')).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'konsul_raft_applied_entries_total')).toBeGreaterThanOrEqual(writes);
      const kv = (method: string, status: string) =>
        sample(
          text,
          'konsul_http_request_duration_seconds_count',
          `method="${method}",route="/v1/kv/*",status="${status}"`,
        );
      expect(kv('PUT', '2xx')).toBe(writes);
      expect(kv('GET', '2xx')).toBe(1);
      expect(kv('GET', '4xx')).toBe(1);
      // The scrape itself is in flight while it is answered.
      expect(sample(text, 'konsul_http_requests_in_flight')).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'konsul_process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(text).toMatch(/^konsul_nodejs_eventloop_lag_seconds /m);

      // The state machine times each command by type; state gauges count what was written.
      expect(sample(text, 'konsul_fsm_apply_seconds_count', 'type="kv.set"')).toBe(writes);
      expect(sample(text, 'konsul_kv_entries')).toBeLessThanOrEqual(writes);
      expect(sample(text, 'konsul_catalog_nodes')).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'konsul_change_feed_events')).toBeGreaterThanOrEqual(writes);

      const json = (await (await fetch(`${s.url}/v1/agent/metrics`)).json()) as {
        Samples: Array<{ Name: string; Count: number; Labels: Record<string, string> }>;
        Gauges: Array<{ Name: string; Value: number; Labels: Record<string, string> }>;
      };
      const commits = json.Samples.find((x) => x.Name === 'konsul_raft_commit_seconds');
      expect(commits?.Count).toBeGreaterThanOrEqual(writes);
      expect(json.Gauges.find((g) => g.Name === 'konsul_raft_state' && g.Labels['state'] === 'leader')?.Value).toBe(1);

      // Once committed to LMDB, the KV gauge counts every key; the MQTT bridge, which publishes
      // behind the writes, has published their changes through its own client.
      const later = await until(
        'the KV gauge to count every key and the bridge to publish',
        async () => (await fetch(`${s.url}/v1/agent/metrics?format=prometheus`)).text(),
        (t) =>
          sample(t, 'konsul_kv_entries') === writes && (sample(t, 'konsul_mqtt_messages_published_total') ?? 0) > 0,
        10_000,
      );
      expect(sample(later, 'konsul_mqtt_clients_connected')).toBeGreaterThanOrEqual(1);
      // Every key has its retained topic (and the server its presence topic); the count is that of
      // the previous read.
      await until(
        'the retained topics to be counted',
        async () => (await fetch(`${s.url}/v1/agent/metrics?format=prometheus`)).text(),
        (t) => (sample(t, 'konsul_mqtt_retained_topics') ?? 0) > writes,
        10_000,
      );
    } finally {
      await s.stop();
    }
  });

  it('count DNS queries by type and response code, and health-check probes by type and status', async () => {
    const s = await spawnServer();
    try {
      const [host, port] = s.dnsAddr.split(':') as [string, string];
      const ask = (name: string, type: 'A' | 'SRV') =>
        new Promise<number>((resolve, reject) => {
          const sock = dgram.createSocket('udp4');
          const timer = setTimeout(() => reject(new Error('no DNS answer')), 5000);
          sock.once('message', (m) => {
            clearTimeout(timer);
            sock.close();
            resolve((m[3] as number) & 0x0f);
          });
          sock.send(dnsPacket.encode({ id: 7, type: 'query', questions: [{ type, name }] }), Number(port), host);
        });
      const registered = await fetch(`${s.url}/v1/catalog/register`, {
        method: 'PUT',
        body: JSON.stringify({ Node: 'n1', Address: '10.0.0.1', Service: { Service: 'web', Port: 80 } }),
      });
      expect(registered.status).toBe(200);
      expect(await ask('web.service.consul', 'A')).toBe(0);
      expect(await ask('nope.service.consul', 'SRV')).toBe(3);
      const check = await fetch(`${s.url}/v1/agent/check/register`, {
        method: 'PUT',
        body: JSON.stringify({ Name: 'http-port', TCP: `${s.host}:${s.port}`, Interval: '1s' }),
      });
      expect(check.status).toBe(200);
      const text = await until(
        'a TCP check probe to run',
        async () => (await fetch(`${s.url}/v1/agent/metrics?format=prometheus`)).text(),
        (t) => (sample(t, 'konsul_check_runs_total', 'type="tcp",status="passing"') ?? 0) >= 1,
        10_000,
      );
      expect(sample(text, 'konsul_check_probe_seconds_count', 'type="tcp"')).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'konsul_dns_queries_total', 'proto="udp",type="A",rcode="NOERROR"')).toBe(1);
      expect(sample(text, 'konsul_dns_queries_total', 'proto="udp",type="SRV",rcode="NXDOMAIN"')).toBe(1);
      expect(sample(text, 'konsul_dns_query_seconds_count')).toBe(2);
    } finally {
      await s.stop();
    }
  });

  it('are off with --disable-metrics, apart from the listener and process gauges', async () => {
    const s = await spawnServer({ args: ['--disable-metrics'] });
    try {
      expect((await fetch(`${s.url}/v1/kv/a`, { method: 'PUT', body: 'v' })).status).toBe(200);
      const text = await (await fetch(`${s.url}/v1/agent/metrics?format=prometheus`)).text();
      expect(text).not.toContain('konsul_raft_commit_seconds');
      expect(text).not.toContain('konsul_http_request_duration_seconds');
      expect(text).toMatch(/^konsul_http_connections_open /m);
    } finally {
      await s.stop();
    }
  });
});
