import { route } from '../registry.js';
import type { Hono } from 'hono';
import { BadRequestError } from '../../errors.js';
import { filterReadable } from '../authz.js';
import type { ServerApiDeps } from '../context.js';
import { jsonResponse } from '../respond.js';
import { formatGoDuration } from '../../util/duration.js';

function splitAddr(addr: string): { host: string; port: number } {
  const at = addr.lastIndexOf(':');
  return { host: addr.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(addr.slice(at + 1)) };
}

/**
 * Registers /v1/agent/self: this agent's configuration and membership, in Consul's shape.
 * `Config` has Consul's fields plus `SessionTTLMin` (nanoseconds; a Konsul extension that
 * Patroni reads after a session TTL was refused, to retry with the smallest TTL allowed);
 * `DebugConfig` holds the runtime settings Consul shows there, durations as Go writes them ("10s").
 */
export function registerAgentRoutes(app: Hono, deps: ServerApiDeps): void {
  route(app, 'GET', '/v1/agent/self', () => {
    const { node, limits } = deps;
    const raft = splitAddr(node.raftAddr);
    const sessionTtlMinNs = Math.round(limits.sessionTtlMinMs * 1e6);
    const body = {
      Config: {
        Datacenter: node.datacenter,
        PrimaryDatacenter: node.datacenter,
        NodeName: node.name,
        NodeID: node.id,
        Server: true,
        Revision: '',
        Version: node.version,
        SessionTTLMin: sessionTtlMinNs,
      },
      DebugConfig: {
        Datacenter: node.datacenter,
        PrimaryDatacenter: node.datacenter,
        NodeName: node.name,
        NodeID: node.id,
        ServerMode: true,
        Revision: '',
        Version: node.version,
        SessionTTLMin: formatGoDuration(sessionTtlMinNs),
        ACLsEnabled: deps.acl.settings.enabled,
        KVMaxValueSize: limits.kvMaxValueBytes,
        TxnMaxReqLen: limits.txnMaxBytes,
        HTTPAddrs: [`tcp://${node.httpAddr}`],
      },
      Member: {
        Name: node.name,
        Addr: raft.host,
        Port: raft.port,
        Tags: { role: 'consul', dc: node.datacenter, id: node.id, vsn: '2', build: node.version },
        Status: 1,
      },
      Stats: {
        konsul: { http_addr: node.httpAddr, known_leader: String(deps.cluster.leader() !== undefined) },
      },
      Meta: {},
    };
    return jsonResponse(JSON.stringify(body));
  });

  const op = deps.operator;

  route(app, 'PUT', '/v1/agent/join/:addr', async (c) => {
    let addr: string;
    try {
      addr = decodeURIComponent(c.req.param('addr'));
    } catch {
      throw new BadRequestError('Invalid address: bad percent-encoding');
    }
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/.test(addr))
      throw new BadRequestError(
        `Invalid address ${JSON.stringify(addr)}: expected HOST:PORT of a server's raft address`,
      );
    await op.join(addr);
    return new Response(null, { status: 200 });
  });

  route(app, 'PUT', '/v1/agent/leave', async () => {
    await op.leave();
    return new Response(null, { status: 200 });
  });

  // Members the token may not read (node:read) are left out.
  route(app, 'GET', '/v1/agent/members', (c) =>
    jsonResponse(JSON.stringify(filterReadable(deps, c.req.raw, op.members(), (m) => [['node', m.Name]]).items)),
  );
}
