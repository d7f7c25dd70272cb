import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts } from '../testing/cluster-harness.js';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';
import { startPrometheus } from '../testing/prometheus.js';

let prom: ChildProcess | undefined;
let app: Server | undefined;
afterAll(async () => {
  prom?.kill('SIGKILL');
  app?.close();
  await cleanupAll();
});

describe('Prometheus HTTP service discovery', () => {
  it('a real Prometheus discovers a registered, healthy target from Konsul and scrapes it', async () => {
    const server = await spawnServer();
    const [appPort] = await freePorts(1);
    app = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('konsul_sd_test_metric 42\n');
    }).listen(appPort, '127.0.0.1');
    const register = (body: object) =>
      fetch(`${server.url}/v1/catalog/register`, { method: 'PUT', body: JSON.stringify(body) });
    await register({
      Node: 'app-node',
      Address: '127.0.0.1',
      NodeMeta: { rack: 'r1' },
      Service: { ID: 'app-1', Service: 'app', Port: appPort, Tags: ['metrics'], Meta: { 'team-name': 'core' } },
      Check: { CheckID: 'app-ok', ServiceID: 'app-1', Status: 'passing' },
    });
    await register({
      Node: 'sick-node',
      Address: '127.0.0.2',
      Service: { ID: 'app-2', Service: 'app', Port: 9 },
      Check: { CheckID: 'app-bad', ServiceID: 'app-2', Status: 'critical' },
    });
    const sd = (await (await fetch(`${server.url}/v1/prometheus/sd`)).json()) as Array<{
      targets: string[];
      labels: Record<string, string>;
    }>;
    expect(sd).toHaveLength(1);
    expect(sd[0]).toMatchObject({
      targets: [`127.0.0.1:${appPort}`],
      labels: {
        service: 'app',
        __meta_consul_tags: ',metrics,',
        __meta_consul_service_metadata_team_name: 'core',
        __meta_consul_metadata_rack: 'r1',
      },
    });

    const prometheus = await startPrometheus([
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: konsul',
      '    http_sd_configs:',
      `      - url: ${server.url}/v1/prometheus/sd`,
      '        refresh_interval: 1s',
    ]);
    prom = prometheus.proc;
    const promPort = prometheus.address.split(':')[1];
    let startError: Error | undefined;
    prom.once('error', (err) => (startError = err));
    const deadline = Date.now() + 40_000;
    let value: string | undefined;
    let targets: Array<{ labels: Record<string, string>; health: string; discoveredLabels: Record<string, string> }> =
      [];
    // Until both show: the targets are read before the query, so a scrape may land between them.
    while (Date.now() < deadline && (value === undefined || targets[0]?.health !== 'up')) {
      await new Promise((r) => setTimeout(r, 500));
      if (startError) throw new Error(`prometheus did not start: ${startError.message}`);
      try {
        const t = (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/targets`)).json()) as {
          data: { activeTargets: typeof targets };
        };
        targets = t.data.activeTargets;
        const q = (await (
          await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=konsul_sd_test_metric`)
        ).json()) as { data: { result: Array<{ value: [number, string] }> } };
        value = q.data.result[0]?.value[1];
      } catch {
        // Prometheus is still starting.
      }
    }
    expect(targets.map((t) => t.labels['instance'])).toEqual([`127.0.0.1:${appPort}`]);
    expect(targets[0]?.health).toBe('up');
    expect(targets[0]?.discoveredLabels['__meta_consul_service']).toBe('app');
    expect(value).toBe('42');
  }, 60_000);
});
