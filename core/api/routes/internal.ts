import { route } from '../registry.js';
import type { Hono } from 'hono';
import { BadRequestError } from '../../errors.js';
import type { FaultsPort, PeerProposals } from '../internal-ports.js';
import type { DnsAnswer, DnsType } from '../../dns/resolver.js';

/** Who may send internal proposals. */
export interface InternalProposeAccess {
  /** The servers' shared secret; when set, requests must carry it in X-Konsul-Join-Token. */
  readonly joinToken: string | undefined;
  /** With ACLs on, internal proposals need a join token (they bypass every ACL check). */
  readonly aclEnabled: boolean;
}

/**
 * Registers POST /v1/internal/propose: followers send internal writes (anti-entropy, tombstone
 * reaping) to the leader as msgpack-encoded commands and get the encoded outcome back. 403
 * "Permission denied" without the join token, or always with ACLs on and no join token configured.
 */
export function registerInternalProposeRoute(app: Hono, proposals: PeerProposals, access: InternalProposeAccess): void {
  route(app, 'POST', '/v1/internal/propose', async (c) => {
    if (access.joinToken && !sameText(c.req.header('x-konsul-join-token'), access.joinToken))
      return c.text('Permission denied\n', 403);
    // With ACLs on, only servers holding the join token may propose raw commands.
    if (access.aclEnabled && !access.joinToken) return c.text('Permission denied\n', 403);
    const data = new Uint8Array(await c.req.arrayBuffer());
    const reply = await proposals.proposeForPeer(data);
    return new Response(reply as Uint8Array<ArrayBuffer>, { headers: { 'Content-Type': 'application/msgpack' } });
  });
}

/** What answers WAN pings (the server's WAN pool). */
export interface WanPingPort {
  /** Takes another server's ping and gives this server's (both JSON values). */
  answer(ping: never): unknown;
}

/**
 * Registers POST /v1/internal/wan/ping: another datacenter's server (or one of this datacenter's,
 * spreading what it learnt) says who it is and whom it knows, and gets the same back. Like the
 * propose route it needs the join token when one is set, and a join token at all with ACLs on.
 */
export function registerWanPingRoute(app: Hono, pool: WanPingPort, access: InternalProposeAccess): void {
  route(app, 'POST', '/v1/internal/wan/ping', async (c) => {
    if (!internalAllowed(c.req.header('x-konsul-join-token'), access)) return c.text('Permission denied\n', 403);
    const body = (await c.req.json().catch(() => undefined)) as unknown;
    if (typeof body !== 'object' || body === null) throw new BadRequestError('a WAN ping is a JSON object');
    return c.json(pool.answer(body as never));
  });
}

/** DNS question types another datacenter's server may ask about. */
const DNS_TYPES = new Set(['A', 'AAAA', 'SRV', 'TXT', 'SOA', 'ANY']);

/**
 * Registers GET /v1/internal/dns?name=<question>&type=<A|AAAA|SRV|TXT|SOA|ANY>: another
 * datacenter's server relays a DNS question about this datacenter (`<…>.service.<this dc>.consul`)
 * and gets `lookup`'s answer as JSON, which it encodes for its client. Guarded as the WAN ping.
 */
export function registerInternalDnsRoute(
  app: Hono,
  lookup: (qname: string, qtype: DnsType) => DnsAnswer,
  access: InternalProposeAccess,
): void {
  route(app, 'GET', '/v1/internal/dns', (c) => {
    if (!internalAllowed(c.req.header('x-konsul-join-token'), access)) return c.text('Permission denied\n', 403);
    const name = c.req.query('name') ?? '';
    const type = c.req.query('type') ?? '';
    if (name === '' || name.length > 255 || !DNS_TYPES.has(type))
      throw new BadRequestError('want ?name=<DNS name> and ?type=A, AAAA, SRV, TXT, SOA or ANY');
    return c.json(lookup(name, type as DnsType));
  });
}

/**
 * Whether a server-to-server request may pass: it carries the join token when one is set (compared
 * in constant time), and without a join token only while ACLs are off.
 */
export function internalAllowed(header: string | undefined, access: InternalProposeAccess): boolean {
  return access.joinToken ? sameText(header, access.joinToken) : !access.aclEnabled;
}

/** Whether `a` equals `b`, comparing every character whatever the first difference (for secrets). */
function sameText(a: string | undefined, b: string): boolean {
  if (a === undefined || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Registers PUT /v1/internal/faults (tests only; a server registers it with --test-faults):
 * body `{"block": [node names]}` drops Raft traffic to and from those servers; answers
 * `{"blocked": [...]}`. A body of any other shape is a 400.
 */
export function registerFaultsRoute(app: Hono, faults: FaultsPort): void {
  route(app, 'PUT', '/v1/internal/faults', async (c) => {
    const body = (await c.req.json().catch(() => undefined)) as { block?: unknown } | undefined;
    if (!body || !Array.isArray(body.block) || !body.block.every((b) => typeof b === 'string'))
      throw new BadRequestError('body must be {"block": [node names]}');
    faults.block(body.block as string[]);
    return c.json({ blocked: body.block });
  });
}

/**
 * Registers GET /v1/internal/acl/replicate: a secondary datacenter's leader fetches this (the
 * primary) datacenter's policies, roles and global tokens — secrets included, so only with the
 * join token (internalAllowed) — to replicate them (`read` gives them).
 */
export function registerAclReplicateRoute(app: Hono, read: () => unknown, access: InternalProposeAccess): void {
  route(app, 'GET', '/v1/internal/acl/replicate', (c) => {
    if (!internalAllowed(c.req.header('x-konsul-join-token'), access)) return c.text('Permission denied\n', 403);
    return c.json(read());
  });
}

/**
 * Registers GET /v1/acl/replication: Consul's ACL replication status (`status` gives it; in the
 * primary datacenter, or with ACLs off, Enabled is false). Needs no token, as Consul's.
 */
export function registerAclReplicationStatusRoute(app: Hono, status: () => unknown): void {
  route(app, 'GET', '/v1/acl/replication', (c) => c.json(status()));
}
