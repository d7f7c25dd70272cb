import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../testing/process.js';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';

afterAll(cleanupAll);

describe('insights', () => {
  it('name a check made to flap, with its figure, baseline and window, and count it in a gauge', async () => {
    const s = await spawnServer();
    try {
      const register = await fetch(`${s.url}/v1/agent/service/register`, {
        method: 'PUT',
        body: JSON.stringify({ Name: 'web', ID: 'web-1', Port: 80, Check: { CheckID: 'flappy', TTL: '60s' } }),
      });
      expect(register.status).toBe(200);
      const insights = async () =>
        (await (await fetch(`${s.url}/v1/operator/insights`)).json()) as Array<Record<string, unknown>>;
      expect(await insights()).toEqual([]);
      // A TTL check starts critical: pass, fail, pass, fail is four changes.
      for (const verb of ['pass', 'fail', 'pass', 'fail']) {
        const r = await fetch(`${s.url}/v1/agent/check/${verb}/flappy`, { method: 'PUT' });
        expect(r.status).toBe(200);
      }
      const found = await until(
        'the flapping check to be found',
        insights,
        (f) => f.some((x) => x['Kind'] === 'flapping_check'),
        10_000,
      );
      const flap = found.find((x) => x['Kind'] === 'flapping_check') as Record<string, unknown>;
      expect(flap).toMatchObject({
        Subject: expect.stringMatching(/\/flappy$/),
        Figure: 4,
        Baseline: 4,
        Window: '10m0s',
      });
      expect(String(flap['Message'])).toMatch(/changed status 4 times in 10m0s .*now critical/);
      const text = await (await fetch(`${s.url}/v1/agent/metrics?format=prometheus`)).text();
      expect(text).toMatch(/^konsul_insights_findings\{kind="flapping_check"\} 1$/m);
      expect(text).toMatch(/^konsul_insights_findings\{kind="write_rate"\} 0$/m);
    } finally {
      await s.stop();
    }
  });
});
