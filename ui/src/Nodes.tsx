import { useMemo, useState } from 'react';
import { api, usePermissions } from './api.js';
import { Alert, FilterBox, Link, Status, useFollow, useForEach, THead, useAction } from './common.js';
import { type Check, CheckTable, useAgentNode, worstOf } from './Services.js';

/** The reason recorded with a maintenance mode set from the UI. */
const REASON = 'set from the Web UI';

interface CatalogNode {
  Node: string;
  Address: string;
  Datacenter: string;
}

/**
 * Every node with its address, its services and the health of its own checks, live: blocking
 * queries on the nodes, the service list and all checks say when something changed, and each
 * node's services are read again then (one request per node, which suits hundreds of nodes).
 */
export function Nodes() {
  const nodes = useFollow<CatalogNode[]>('/v1/catalog/nodes');
  const checks = useFollow<Check[]>('/v1/health/state/any');
  const catalog = useFollow<Record<string, string[]>>('/v1/catalog/services');
  const [filter, setFilter] = useState('');
  const services = useForEach(
    (nodes.data ?? []).map((n) => n.Node),
    async (node) => {
      const res = await api(`/v1/catalog/node-services/${encodeURIComponent(node)}`);
      const body = (await res.json()) as NodeServices | null;
      return [...new Set((body?.Services ?? []).map((s) => s.Service))].sort();
    },
    [nodes.data, catalog.data, checks.data],
  );
  return (
    <section>
      <h1>Nodes</h1>
      <div className="toolbar">
        <FilterBox value={filter} onChange={setFilter} hint="name" />
      </div>
      <Alert text={nodes.error || checks.error} />
      <table>
        <THead cols={['Node', 'Address', 'Datacenter', 'Node checks', 'Services']} />
        <tbody>
          {(nodes.data ?? [])
            .filter((n) => n.Node.includes(filter))
            .map((n) => {
              const own = (checks.data ?? []).filter((c) => c.Node === n.Node && c.ServiceID === '');
              const critical = own.filter((c) => c.Status === 'critical').length;
              return (
                <tr key={n.Node} data-node={n.Node}>
                  <td>
                    <Link to={`nodes/${n.Node}`}>{n.Node}</Link>
                  </td>
                  <td>{n.Address}</td>
                  <td>{n.Datacenter}</td>
                  <td className={critical > 0 ? 'critical' : 'passing'}>
                    {own.length - critical} passing, {critical} critical
                  </td>
                  <td>{(services[n.Node] ?? []).join(', ')}</td>
                </tr>
              );
            })}
        </tbody>
      </table>
    </section>
  );
}

interface NodeServices {
  Node: CatalogNode | null;
  Services: Array<{ ID: string; Service: string; Port: number; Address: string; Tags: string[] | null }>;
}

/**
 * One node: its address, services and checks, live; maintenance mode for the agent's own node and
 * deregistration for a token with node:write.
 */
export function NodeDetail({ name }: { name: string }) {
  const enc = encodeURIComponent(name);
  const services = useFollow<NodeServices | null>(`/v1/catalog/node-services/${enc}`);
  const checks = useFollow<Check[]>(`/v1/health/node/${enc}`);
  const agentNode = useAgentNode();
  const perms = usePermissions([{ Resource: 'node', Segment: name, Access: 'write' }]);
  const canWrite = perms[`node:write:${name}`] === true;
  const { error: actionError, act } = useAction();
  const inMaintenance = (checks.data ?? []).some((c) => c.CheckID === '_node_maintenance');
  const noSeen = useMemo(() => ({}), []);
  const node = services.data?.Node;
  return (
    <section>
      <p>
        <Link to="nodes">Nodes</Link> / {name}
      </p>
      <h1>
        {name} {checks.data && <Status status={worstOf(checks.data.filter((c) => c.ServiceID === ''))} />}
      </h1>
      <Alert text={services.error || checks.error} />
      <Alert text={actionError} />
      {services.data === null && <p>No node {name}.</p>}
      {node && (
        <p>
          Address {node.Address}, datacenter {node.Datacenter}
        </p>
      )}
      <h2>Services</h2>
      <ul>
        {(services.data?.Services ?? []).map((s) => (
          <li key={s.ID}>
            <Link to={`services/${s.Service}`}>{s.Service}</Link> ({s.ID}, port {s.Port})
          </li>
        ))}
      </ul>
      <h2>Checks</h2>
      <CheckTable checks={checks.data ?? []} seen={noSeen} />
      {canWrite && node && (
        <div className="actions">
          {name === agentNode && (
            <button
              onClick={() =>
                void act(() =>
                  api(`/v1/agent/maintenance?enable=${!inMaintenance}&reason=${encodeURIComponent(REASON)}`, {
                    method: 'PUT',
                  }),
                )
              }
            >
              {inMaintenance ? 'End node maintenance' : 'Enter node maintenance'}
            </button>
          )}
          {name !== agentNode && (
            <button
              className="danger"
              onClick={() => {
                if (!confirm(`Deregister node ${name} with its services and checks?`)) return;
                void act(() => api('/v1/catalog/deregister', { method: 'PUT', body: JSON.stringify({ Node: name }) }));
              }}
            >
              Deregister node
            </button>
          )}
        </div>
      )}
    </section>
  );
}
