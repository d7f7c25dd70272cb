import { type ChildProcess, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as dnsPacket from 'dns-packet';
import client from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { TestClusterProcesses } from '../testing/cluster-harness.js';
import { requireProgram, until } from '../testing/process.js';
import { startPrometheus } from '../testing/prometheus.js';
import { spawnEdge } from '../testing/spawn-edge.js';
import { cleanupAll } from '../testing/spawn-server.js';

const ROOT = resolve(import.meta.dirname, '..');
const ALERTS = join(ROOT, 'docs/prometheus/alerts.yml');
const OBSERVABILITY = join(ROOT, 'docs/OBSERVABILITY.md');
const DASHBOARD = join(ROOT, 'docs/grafana/konsul.json');

let prom: ChildProcess | undefined;
let cluster: TestClusterProcesses | undefined;
afterAll(async () => {
  prom?.kill('SIGKILL');
  await cluster?.stopAll();
  await cleanupAll();
});

/** Every `expr:` of the alerting rules (the file holds one rule per `- alert:`, each one line of expr). */
function alertExprs(): Array<{ alert: string; expr: string }> {
  const out: Array<{ alert: string; expr: string }> = [];
  let alert = '';
  for (const line of readFileSync(ALERTS, 'utf8').split('\n')) {
    const a = /^\s*- alert: (\S+)/.exec(line);
    if (a) alert = a[1] as string;
    const e = /^\s*expr: (.+)$/.exec(line);
    if (e) out.push({ alert, expr: e[1] as string });
  }
  return out;
}

/** An alert's signal: its expression without the final comparison with a number. */
function signalOf(expr: string): string {
  const m = /^(.*\S)\s*(?:>|<|>=|<=|==|!=)\s*[\d.]+$/.exec(expr);
  if (!m) throw new Error(`alert expression does not end in a comparison with a number: ${expr}`);
  return m[1] as string;
}

/** Every target expression of the dashboard, with Grafana's variables filled in as the test's Prometheus needs. */
function dashboardExprs(): Array<{ panel: string; expr: string }> {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
  };
  return d.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title,
      expr: t.expr
        .replaceAll('$edge_job', 'konsul-edge')
        .replaceAll('$job', 'konsul')
        .replaceAll('$__rate_interval', '30s'),
    })),
  );
}

describe('the Prometheus alerts and the Grafana dashboard', () => {
  const title = 'pass promtool; every alert signal and dashboard expression returns series from 3 servers and an agent';
  it(title, async () => {
    requireProgram('promtool', 'prometheus');
    const rules = spawnSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8' });
    expect(rules.status, rules.stdout + rules.stderr).toBe(0);
    const alerts = alertExprs();
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'KonsulNoLeader',
        'KonsulFrequentElections',
        'KonsulSlowCommits',
        'KonsulBlockingQueriesNearLimit',
        'KonsulCheckFlapping',
        'KonsulEdgeAgentLagging',
        'KonsulEdgeOutboxGrowing',
      ]),
    );

    cluster = await TestClusterProcesses.start(3, ['--dns-addr', '127.0.0.1:0', '--mqtt-addr', '127.0.0.1:0']);
    const leader = await cluster.waitForLeader();
    const edge = await spawnEdge({ upstream: `http://${leader.http}`, args: ['--prefix', 'assets/'] });
    const edgeAddr = new URL(edge.url).host;
    const prometheus = await startPrometheus([
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: konsul',
      '    metrics_path: /v1/agent/metrics',
      '    params: { format: [prometheus] }',
      `    static_configs: [{ targets: [${cluster.members.map((m) => `'${m.http}'`).join(', ')}] }]`,
      '  - job_name: konsul-edge',
      '    metrics_path: /v1/agent/metrics',
      '    params: { format: [prometheus] }',
      `    static_configs: [{ targets: ['${edgeAddr}'] }]`,
    ]);
    prom = prometheus.proc;
    const query = async (expr: string): Promise<unknown[]> => {
      const res = await fetch(`http://${prometheus.address}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
      if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? res.status}`);
      return body.data?.result ?? [];
    };
    await until(
      'Prometheus to scrape all three servers and the agent',
      () => query('up == 1').catch(() => []),
      (r) => r.length === 4,
      30_000,
    );

    // Activity for every panel: writes, DNS queries, a TTL check that changes status, a refused
    // request (a 33rd log monitor answers 503), spread over several scrapes.
    const server = leader.server!;
    const [dnsHost, dnsPort] = server.dnsAddr.split(':') as [string, string];
    const sock = dgram.createSocket('udp4');
    const check = await fetch(`http://${leader.http}/v1/agent/check/register`, {
      method: 'PUT',
      body: JSON.stringify({ CheckID: 'flappy', Name: 'flappy', TTL: '30s' }),
    });
    expect(check.status).toBe(200);
    const monitors: AbortController[] = [];
    // The answers are kept: an unread response the client collects as garbage closes its
    // connection, which ends that monitor on the server and frees its place.
    const open: Response[] = [];
    try {
      for (let i = 0; i < 33; i++) {
        const a = new AbortController();
        monitors.push(a);
        const r = await fetch(`http://${leader.http}/v1/agent/monitor`, { signal: a.signal });
        open.push(r);
        if (i === 32) expect(r.status).toBe(503);
      }
      for (let round = 0; round < 8; round++) {
        for (let i = 0; i < 20; i++) {
          const res = await fetch(`http://${leader.http}/v1/kv/assets/${i}`, { method: 'PUT', body: `v${round}` });
          expect(res.status).toBe(200);
        }
        sock.send(
          dnsPacket.encode({ id: round, type: 'query', questions: [{ type: 'A', name: 'consul.service.consul' }] }),
          Number(dnsPort),
          dnsHost,
        );
        await fetch(`http://${leader.http}/v1/agent/check/${round % 2 === 0 ? 'pass' : 'fail'}/flappy`, {
          method: 'PUT',
        });
        await new Promise((r) => setTimeout(r, 700));
      }
    } finally {
      for (const a of monitors) a.abort();
      sock.close();
    }

    // docs/OBSERVABILITY.md names every metric the servers and the agent export (prom-client's
    // default process metrics it lists by family).
    const defaults = new client.Registry();
    client.collectDefaultMetrics({ register: defaults, prefix: 'konsul_' });
    const defaultNames = new Set((await defaults.getMetricsAsJSON()).map((m) => m.name));
    const doc = readFileSync(OBSERVABILITY, 'utf8');
    const exported = new Set<string>();
    for (const target of [...cluster.members.map((m) => `http://${m.http}`), edge.url]) {
      const text = await (await fetch(`${target}/v1/agent/metrics?format=prometheus`)).text();
      for (const m of text.matchAll(/^# TYPE (\S+) /gm)) exported.add(m[1] as string);
    }
    expect(exported.size).toBeGreaterThan(80);
    expect([...exported].filter((name) => !defaultNames.has(name) && !doc.includes(`\`${name}`))).toEqual([]);

    const empty: string[] = [];
    for (const { alert, expr } of alerts)
      if ((await query(signalOf(expr))).length === 0) empty.push(`alert ${alert}: ${signalOf(expr)}`);
    const panels = dashboardExprs();
    expect(panels.length).toBeGreaterThanOrEqual(30);
    for (const { panel, expr } of panels) if ((await query(expr)).length === 0) empty.push(`panel ${panel}: ${expr}`);
    expect(empty).toEqual([]);
  });
});
