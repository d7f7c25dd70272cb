import type { Hono } from 'hono';
import type { Finding } from '../../insights/analyser.js';
import { route } from '../registry.js';

/** What the insights route reads. */
export interface InsightsPort {
  findings(): Finding[];
}

/**
 * Registers GET /v1/operator/insights (operator:read; the leader answers, see the route table):
 * the analyser's findings now — flapping checks, then write and error rates far from their own
 * baseline — each with its subject, figure, baseline and window.
 */
export function registerInsightsRoute(app: Hono, insights: InsightsPort): void {
  route(app, 'GET', '/v1/operator/insights', (c) => c.json(insights.findings()));
}
