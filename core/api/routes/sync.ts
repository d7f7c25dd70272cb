import { fleetName } from '../../fleet/input.js';
import { route } from '../registry.js';
import type { Hono } from 'hono';
import { encodeSyncMessage, type SyncMessage } from '../../sync/codec.js';
import { normalizeScope } from '../../sync/scope.js';
import { SyncStream } from '../../sync/stream.js';
import { encodeBase64 } from '../../util/base64.js';
import { followToken, requireScopeReadable, unreadableInScope } from '../authz.js';
import type { ServerApiDeps } from '../context.js';
import { parseUintParam } from '../query.js';
import { sseFrame, sseResponse } from '../sse.js';

/** A sync message as one SSE frame: event = its kind, data = base64 msgpack, id = a batch's index. */
export function syncFrame(m: SyncMessage): string {
  const data = encodeBase64(encodeSyncMessage(m));
  if (m.k === 'batch') return sseFrame({ event: 'batch', id: String(m.batch.index), data });
  return sseFrame({ event: m.k, data });
}

/**
 * Registers GET /v1/edge/sync?prefix=…&service=…[&after=N][&agent=ID] (Konsul's edge replication over HTTP):
 * a Server-Sent Events stream of sync messages — snapshot chunks of the scope unless the replica
 * can resume after N, then one batch per index with changes in scope. When the server cannot
 * continue without a gap it sends a fresh snapshot in the same stream. Idle streams get
 * change-less batches that move the replica to the newest index. Served by any server. An agent
 * that names itself (`agent`) has its stream's lag followed by insights.
 */
export function registerSyncRoutes(app: Hono, deps: ServerApiDeps): void {
  route(app, 'GET', '/v1/edge/sync', (c) => {
    const feed = deps.changeFeed;
    const url = new URL(c.req.url);
    const scope = normalizeScope({
      prefixes: url.searchParams.getAll('prefix'),
      services: url.searchParams.getAll('service'),
    });
    // A replica holds whole prefixes: the token must read everything under each, and each service.
    requireScopeReadable(deps, c.req.raw, scope);
    const afterText = url.searchParams.get('after');
    const after = afterText === null || afterText === '' ? null : parseUintParam(afterText, 'after');
    const agent = url.searchParams.get('agent');
    // An agent's name as it may give it (its node name or generated id): a fleet member's name.
    if (agent !== null) fleetName(agent);
    const stream = new SyncStream({ feed, read: (fn) => deps.store.read(fn) }, scope, after);
    const untrack = agent !== null && deps.syncStreams ? deps.syncStreams.add(agent, stream) : undefined;
    // The token is followed: deleted, or no longer reading the whole scope, it ends the stream.
    const revoked = new AbortController();
    let reason = '';
    const unfollow = followToken(deps, c.req.raw, (v) => {
      const gap = v.ok ? unreadableInScope(v.identity.authz, scope) : undefined;
      const why = !v.ok
        ? v.reason
        : gap
          ? `the token lacks ${gap.permission} on ${JSON.stringify(gap.name)}`
          : undefined;
      if (why !== undefined && !revoked.signal.aborted) {
        reason = why;
        revoked.abort();
      }
    });
    const source = {
      done: false,
      next: async () => (await stream.next()).map(syncFrame),
      idle: () => {
        const m = stream.progress();
        return m ? syncFrame(m) : undefined;
      },
      close: () => {
        unfollow();
        untrack?.();
        stream.close();
      },
    };
    return sseResponse(
      deps,
      c.req.raw,
      source,
      `sync after ${after ?? 'snapshot'}`,
      { 'X-Consul-Index': String(Math.max(1, feed.latest)) },
      { signal: revoked.signal, frame: () => sseFrame({ event: 'closed', data: JSON.stringify({ Reason: reason }) }) },
    );
  });
}
