import type { Command } from 'commander';
import type { OutboxItemJson as OutboxItem } from '../../edge/api.js';
import { json, table } from '../client/output.js';
import { type ClientCommand, formatFlag, formatOf } from './common.js';

/**
 * Registers `edge status` and `edge outbox` (against an edge agent's API). `konsul edge` with
 * agent flags runs an agent instead (cli/main.ts tells them apart).
 */
export function registerEdgeCommands(program: Command, client: ClientCommand): void {
  const edge = program.command('edge').description("an edge agent's state (konsul edge --upstream … runs one)");

  client(formatFlag(edge.command('status').description("the agent's link, replica and outbox")), async (c, io, o) => {
    const status = await c.json<Record<string, unknown>>('GET', '/v1/edge/status');
    if (formatOf(o as { format?: string }) === 'json') {
      io.out(json(status));
      return 0;
    }
    const text = (v: unknown): string =>
      v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    io.out(
      table(
        undefined,
        Object.keys(status).map((k) => [k, text(status[k])]),
      ),
    );
    return 0;
  });

  client(
    formatFlag(edge.command('outbox').description('writes queued while offline, and their outcomes')).argument(
      '[id]',
      'one item',
    ),
    async (c, io, id: string | undefined, o: { format?: string }) => {
      const format = formatOf(o);
      const items = id
        ? [await c.json<OutboxItem>('GET', `/v1/edge/outbox/${encodeURIComponent(id)}`)]
        : await c.json<OutboxItem[]>('GET', '/v1/edge/outbox');
      if (format === 'json') {
        io.out(json(id ? items[0] : items));
        return 0;
      }
      const rows = items.map((i) => [
        i.ID,
        i.Status,
        `${i.Method} ${i.Path}`,
        String(i.Attempts),
        i.Result ? String(i.Result.StatusCode) : '-',
        i.CreatedAt,
      ]);
      io.out(table(['ID', 'Status', 'Write', 'Attempts', 'Answer', 'Queued'], rows));
      return 0;
    },
  );
}
