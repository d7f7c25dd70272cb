import { KonsulError } from '../errors.js';

/**
 * How a server reaches the other datacenters it is federated with (WAN). Implemented by the
 * server's WAN pool (server/cluster/wan.ts); absent on a server that joined no other datacenter,
 * and on edge agents.
 */
export interface FederationPort {
  /**
   * Every datacenter known, this one first, then the others by measured round-trip time (the
   * median of their reachable servers'), ties by name.
   */
  datacenters(): readonly string[];
  /**
   * Sends `req` to a server of datacenter `dc` (its leader when known, else its nearest server)
   * and gives that server's answer, its body streamed. Throws noPathToDatacenter for a
   * datacenter that is not known, and dcNotAvailable when none of its servers answers.
   */
  forward(dc: string, req: Request): Promise<Response>;
  /**
   * Calls a server-to-server route (`/v1/internal/…`, with the join token) on a server of `dc`:
   * POST with `body` as JSON, or GET without one. Gives the status and body of the first server
   * that answers; throws as forward does.
   */
  internal(dc: string, path: string, body?: unknown): Promise<{ readonly status: number; readonly body: string }>;
}

/** Consul's error for a datacenter no server knows of (ErrNoDCPath; answered 500). */
export function noPathToDatacenter(dc: string): KonsulError {
  return new KonsulError('no_path', `No path to datacenter ${JSON.stringify(dc)}`);
}

/** Consul's error for a known datacenter none of whose servers can be reached (ErrDCNotAvailable; 500). */
export function dcNotAvailable(dc: string): KonsulError {
  return new KonsulError('no_path', `Remote DC has no server currently reachable: ${JSON.stringify(dc)}`);
}

/**
 * Header a server sets on a request it sends to another datacenter: the datacenter it came from.
 * The receiving server answers it as its own client's request (forwarding it to its leader when
 * needed), so the header is informational.
 */
export const FORWARDED_DC_HEADER = 'x-konsul-forwarded-dc';

/**
 * The datacenter `req` is for, when it names one other than `local` (the `dc` query parameter),
 * else undefined. Agent, edge and internal routes are this server's own and are never sent
 * elsewhere.
 */
export function remoteDatacenter(url: URL, local: string): string | undefined {
  const dc = url.searchParams.get('dc');
  if (dc === null || dc === '' || dc === local) return undefined;
  const p = url.pathname;
  if (p.startsWith('/v1/agent/') || p.startsWith('/v1/edge/') || p.startsWith('/v1/internal/')) return undefined;
  return dc;
}
