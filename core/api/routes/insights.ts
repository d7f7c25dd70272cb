import type { Hono } from 'hono';
import type { Finding } from '../../insights/analyser.js';
import { route } from '../registry.js';

/** What the insights routes read. */
export interface InsightsPort {
  /**
   * Every server's findings: this server's, and those of the kinds only each server sees
   * (LOCAL_INSIGHT_KINDS) from the others, each such finding with its Server. `req` carries the
   * caller's token on to the other servers.
   */
  gather(req: Request): Promise<Finding[]>;
  /** This server's findings of the kinds only it sees, with its Server. */
  local(): Finding[];
}

/**
 * Registers GET /v1/operator/insights (operator:read; the leader answers, see the route table):
 * the findings now — flapping checks, checks whose probe time departs from their baseline, write
 * and error rates far from their own baseline, edge agents whose lag grows — each with its
 * subject, figure, baseline and window, gathered from every server; and GET
 * /v1/internal/insights (operator:read; any server answers for itself), what the leader gathers.
 */
export function registerInsightsRoute(app: Hono, insights: InsightsPort): void {
  route(app, 'GET', '/v1/operator/insights', async (c) => c.json(await insights.gather(c.req.raw)));
  route(app, 'GET', '/v1/internal/insights', (c) => c.json(insights.local()));
}
