import type { Hono } from 'hono';
import { BadRequestError } from '../../errors.js';
import type { LogControl, LogMonitor } from '../../log/hub.js';
import { LOG_LEVELS, type LogLevel } from '../../ports/logger.js';
import { readJson } from '../body.js';
import type { ApiDeps } from '../context.js';
import { route } from '../registry.js';

const encoder = new TextEncoder();

/** `text` as a log level (any case), or a 400 naming it as Consul words it. */
function logLevelOf(text: string): LogLevel {
  const level = text.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new BadRequestError(`Unknown log level: ${text}`);
  return level as LogLevel;
}

/** The monitor's lines as a byte stream; closing either side closes the other. */
function monitorStream(monitor: LogMonitor, stop: AbortSignal): ReadableStream<Uint8Array> {
  const onStop = (): void => monitor.close();
  stop.addEventListener('abort', onStop, { once: true });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const batch = await monitor.next();
      if (!batch) {
        stop.removeEventListener('abort', onStop);
        controller.close();
        return;
      }
      let text = '';
      // As Consul tells a monitor that could not keep up.
      if (batch.dropped > 0) text += `[WARN] Monitor dropped ${batch.dropped} logs during monitor request\n`;
      for (const line of batch.lines) text += `${line}\n`;
      controller.enqueue(encoder.encode(text));
    },
    cancel() {
      stop.removeEventListener('abort', onStop);
      monitor.close();
    },
  });
}

/**
 * Registers the routes over the process's log controls (ACL guards in the route table):
 * GET /v1/agent/monitor streams log lines as they are written (`loglevel`, default info, any case;
 * `logjson` for JSON lines), as Consul's; GET and PUT /v1/agent/log-level read and change the
 * level (`{"LogLevel": "debug"}` or `?level=debug`). An unknown level answers 400 "Unknown log
 * level: X". The stream ends when the client goes away or the server shuts down.
 */
export function registerAgentLogRoutes(app: Hono, deps: ApiDeps, logs: LogControl): void {
  route(app, 'GET', '/v1/agent/monitor', (c) => {
    const level = logLevelOf(c.req.query('loglevel') ?? 'info');
    const json = c.req.query('logjson');
    const monitor = logs.monitor(level, json !== undefined && json !== 'false' ? 'json' : 'text');
    const gone = deps.clientGone?.(c.req.raw) ?? c.req.raw.signal;
    const stop = AbortSignal.any([gone, deps.shutdownSignal]);
    return new Response(monitorStream(monitor, stop), {
      headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache' },
    });
  });
  route(app, 'GET', '/v1/agent/log-level', (c) => c.json({ LogLevel: logs.level() }));
  route(app, 'PUT', '/v1/agent/log-level', async (c) => {
    const query = c.req.query('level');
    let text = query;
    if (text === undefined) {
      const body = (await readJson(c.req.raw, 4096, deps.bodyReader)) as { LogLevel?: unknown } | undefined;
      if (!body || typeof body.LogLevel !== 'string')
        throw new BadRequestError('Request body must be {"LogLevel": "<trace|debug|info|warn|error>"}');
      text = body.LogLevel;
    }
    const level = logLevelOf(text);
    logs.setLevel(level);
    deps.logger.info('log level changed', { level });
    return c.json({ LogLevel: level });
  });
}
