import type { Hono } from 'hono';
import type { ApiDeps } from '../context.js';
import { jsonResponse } from '../respond.js';

function splitAddr(addr: string): { host: string; port: number } {
  const at = addr.lastIndexOf(':');
  return { host: addr.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(addr.slice(at + 1)) };
}

/** Registers /v1/agent/self: this agent's configuration and membership, in Consul's shape. */
export function registerAgentRoutes(app: Hono, deps: ApiDeps): void {
  app.get('/v1/agent/self', () => {
    const { node } = deps;
    const raft = splitAddr(node.raftAddr);
    const body = {
      Config: {
        Datacenter: node.datacenter,
        PrimaryDatacenter: node.datacenter,
        NodeName: node.name,
        NodeID: node.id,
        Server: true,
        Revision: '',
        Version: node.version,
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
}
