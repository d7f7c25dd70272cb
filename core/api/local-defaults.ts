import { readBody } from './body.js';
import type { LocalizedRequest, ServerApiDeps } from './context.js';
import type { RouteFacts } from './route-table.js';

/** Header a server sets on a request it forwards: the address of the client that sent it. */
export const CLIENT_ADDRESS_HEADER = 'x-konsul-client-address';
/** Header a server sets on a request it forwards: its own node name. */
export const FORWARDED_HEADER = 'x-konsul-forwarded';

/** A peer server's address as sockets report it (IPv4-mapped IPv6 forms reduced to IPv4). */
const plainAddress = (a: string): string => a.replace(/^::ffff:/, '').replace(/^\[|\]$/g, '');

/**
 * True when `req` was forwarded by another server of the cluster: it carries the forwarding
 * header and comes from the address of one of the servers (a client cannot claim it from elsewhere).
 */
export function forwardedByPeer(deps: ServerApiDeps, req: Request): boolean {
  if (!req.headers.has(FORWARDED_HEADER)) return false;
  const ip = plainAddress(deps.clientAddress(req) ?? '');
  return deps.cluster.peers().some((p) => plainAddress(p.slice(0, p.lastIndexOf(':'))) === ip);
}

/**
 * The address of the client that made `req`: the socket's peer, or, for a request another
 * server forwarded, the address that server received it from. Undefined when unknown.
 */
export function callerAddress(deps: ServerApiDeps, req: Request): string | undefined {
  const socket = deps.clientAddress(req);
  if (!req.headers.has(CLIENT_ADDRESS_HEADER) || !forwardedByPeer(deps, req)) return socket;
  return req.headers.get(CLIENT_ADDRESS_HEADER) ?? socket;
}

/** Largest session-create body the receiving server rewrites (larger ones go as sent; the leader refuses them). */
const MAX_SESSION_BODY = 64 * 1024;

/**
 * Resolves, on the server that received `req`, every default that means "this server", before
 * the request is forwarded to the leader (which would otherwise fill in its own): the node a
 * session is created for (`Node` absent or empty), `near=_agent` in a query, and the caller's
 * address (for the leader's audit log). A request that a peer already forwarded is left as it is.
 * Call only when `req` is about to be forwarded; it may consume the body.
 */
export async function resolveLocalDefaults(
  deps: ServerApiDeps,
  req: Request,
  route: RouteFacts,
): Promise<LocalizedRequest> {
  const url = new URL(req.url);
  const headers: Record<string, string> = {};
  const caller = callerAddress(deps, req);
  if (caller !== undefined) headers[CLIENT_ADDRESS_HEADER] = caller;
  if (url.searchParams.get('near') === '_agent') url.searchParams.set('near', deps.node.name);
  let body: Uint8Array | undefined;
  if (route.method === 'PUT' && route.path === '/v1/session/create') body = await sessionWithNode(deps, req);
  return { headers, search: url.search, ...(body ? { body } : {}) };
}

/**
 * The session-create body with `Node` set to this server's name when the client left it out; the
 * body as received when it is not a JSON object (the leader answers that error as it would to the
 * client). Throws TooLargeError (413) for a body over 64 KiB, as the leader would.
 */
async function sessionWithNode(deps: ServerApiDeps, req: Request): Promise<Uint8Array> {
  const raw = await readBody(req, MAX_SESSION_BODY, deps.bodyReader);
  const text = new TextDecoder().decode(raw);
  let parsed: unknown;
  try {
    parsed = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    return raw;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return raw;
  const fields = parsed as Record<string, unknown>;
  if (fields['Node'] !== undefined && fields['Node'] !== '') return raw;
  return new TextEncoder().encode(JSON.stringify({ ...fields, Node: deps.node.name }));
}
