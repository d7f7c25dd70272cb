import { route } from '../registry.js';
import type { Hono } from 'hono';
import type { MetricsPort } from '../internal-ports.js';

/**
 * Registers GET /v1/agent/metrics: the server's counters in Consul's JSON shape, or in the
 * Prometheus text format with `?format=prometheus`. (The ACL guard, agent:read, is in guards.ts.)
 */
export function registerAgentMetricsRoute(app: Hono, metrics: MetricsPort): void {
  route(app, 'GET', '/v1/agent/metrics', async (c) => {
    if (c.req.query('format') === 'prometheus') {
      const { body, contentType } = await metrics.prometheus();
      return new Response(body, { headers: { 'Content-Type': contentType } });
    }
    return c.json(await metrics.json());
  });
}
