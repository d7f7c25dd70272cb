import type { ApiDeps } from './context.js';
import type { ReadOptions } from './query.js';

/** Consul's query-meta headers, sent with every read answer. `index` must be >= 1. */
export function readHeaders(deps: ApiDeps, index: number, options: ReadOptions): Record<string, string> {
  return {
    'X-Consul-Index': String(index),
    'X-Consul-KnownLeader': String(deps.cluster.leader() !== undefined),
    'X-Consul-LastContact': String(Math.round(deps.cluster.lastContactMs())),
    'X-Consul-Effective-Consistency': deps.cluster.replica
      ? 'stale'
      : options.consistency === 'default'
        ? 'leader'
        : options.consistency,
  };
}

/** A JSON answer from an already-serialized body (text, or its UTF-8 bytes). */
export function jsonResponse(
  body: string | Uint8Array<ArrayBuffer>,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return new Response(body, { status, headers: { 'Content-Type': 'application/json', ...headers } });
}
