import { route } from '../registry.js';
import { aclModule } from '../../acl/state-machine.js';
import { ACL_WATCH_TABLE } from '../../acl/types.js';
import type { Hono } from 'hono';
import { BadRequestError, MethodNotAllowedError } from '../../errors.js';
import { readAppliedIndex } from '../../fsm/meta.js';
import { CATALOG_TABLES, CATALOG_WATCH_TABLE, HEALTH_WATCH_TABLE } from '../../catalog/state-machine.js';
import { EVENT_WATCH_TABLE, eventModule } from '../../event/events.js';
import { KV_TABLES } from '../../kv/state-machine.js';
import { preparedQueryModule } from '../../prepared-query/state-machine.js';
import { PREPARED_QUERY_WATCH_TABLE } from '../../prepared-query/types.js';
import { SESSION_TABLES } from '../../session/state-machine.js';
import { SESSION_WATCH_TABLE } from '../../session/types.js';
import { archiveHeader, readArchive } from '../../snapshot/archive.js';
import type { StateRestoreCommand } from '../../snapshot/restore-module.js';
import { DumpBuilder, parseDump } from '../../snapshot/state-snapshot.js';
import { readBody } from '../body.js';
import type { ApiDeps } from '../context.js';
import { consistentBarrier, parseReadOptions, checkDatacenter } from '../query.js';
import { readHeaders } from '../respond.js';

/**
 * Tables a user snapshot holds: the data (KV, catalog, sessions, prepared queries, events, ACLs),
 * not the membership or metadata.
 */
export const SNAPSHOT_TABLES = [
  ...KV_TABLES,
  ...CATALOG_TABLES,
  ...SESSION_TABLES,
  ...preparedQueryModule.tables,
  ...eventModule.tables,
  ...aclModule.tables,
];
/** Notification pseudo-tables whose watchers a restore resets. */
export const SNAPSHOT_WATCH_TABLES = [
  CATALOG_WATCH_TABLE,
  HEALTH_WATCH_TABLE,
  SESSION_WATCH_TABLE,
  PREPARED_QUERY_WATCH_TABLE,
  EVENT_WATCH_TABLE,
  ACL_WATCH_TABLE,
];
/** Rows GET /v1/snapshot encodes per turn of the event loop (writes and other requests run between). */
export const SNAPSHOT_ROWS_PER_SLICE = 2048;
/** Archive bytes checksummed per turn of the event loop. */
const CRC_BYTES_PER_TURN = 4 * 1024 * 1024;
/** Largest archive PUT /v1/snapshot accepts (it is replicated as one command). */
export const MAX_RESTORE_BYTES = 16 * 1024 * 1024;

/**
 * GET /v1/snapshot saves the data as a checksummed archive; PUT /v1/snapshot restores one. A
 * restore is validated completely (magic, version, length, CRC32C, table layout) before anything
 * is proposed, and applied as one command, so a corrupt archive is refused and never half-applied.
 */
export function registerSnapshotRoutes(app: Hono, deps: ApiDeps): void {
  route(app, 'ALL', '/v1/snapshot', async (c) => {
    const req = c.req.raw;
    const url = new URL(req.url);
    if (req.method === 'GET') {
      const options = parseReadOptions(url, deps);
      await consistentBarrier(deps, options);
      // A read view holds the state at one applied index while writes go on; the dump is built
      // a slice per turn of the event loop and sent as the chunks it was built in.
      const view = deps.store.snapshotRead();
      // The term the archive records: the current one when the view is taken.
      const term = deps.cluster.term?.() ?? 0;
      let index: number;
      let chunks: readonly Uint8Array[];
      let crc = 0;
      try {
        index = readAppliedIndex(view);
        const builder = new DumpBuilder(view, SNAPSHOT_TABLES, SNAPSHOT_ROWS_PER_SLICE);
        const yieldTurn = () => new Promise<void>((resolve) => deps.clock.setTimer(resolve, 0));
        while (!builder.step()) await yieldTurn();
        chunks = builder.chunks();
        // The checksum covers row counts patched in when each table ended, so it follows the build.
        let since = 0;
        for (const c of chunks) {
          crc = deps.hotPaths.crc32c(c, crc);
          since += c.length;
          if (since >= CRC_BYTES_PER_TURN) {
            since = 0;
            await yieldTurn();
          }
        }
      } finally {
        view.close();
      }
      let bytes = 0;
      for (const c of chunks) bytes += c.length;
      const parts = [archiveHeader({ index, term }, bytes, crc), ...chunks];
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          const part = parts.shift();
          if (part) controller.enqueue(part);
          else controller.close();
        },
      });
      return new Response(stream, {
        status: 200,
        headers: {
          ...readHeaders(deps, Math.max(1, index), options),
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(32 + bytes),
        },
      });
    }
    if (req.method === 'PUT') {
      checkDatacenter(url, deps);
      const data = await readBody(req, MAX_RESTORE_BYTES, deps.bodyReader);
      let body: Uint8Array;
      try {
        body = readArchive(deps.hotPaths, data).body;
        parseDump(body, SNAPSHOT_TABLES);
      } catch (err) {
        throw new BadRequestError(`Invalid snapshot: ${(err as Error).message}`);
      }
      const command: StateRestoreCommand = { type: 'state.restore', data: body };
      await deps.writer.submit(command);
      return new Response(null, { status: 200 });
    }
    throw new MethodNotAllowedError(req.method, ['GET', 'PUT']);
  });
}
