import { useEffect, useState } from 'react';
import { follow } from './api.js';

interface CatalogNode {
  Node: string;
  Address: string;
  Datacenter: string;
}

interface Check {
  Node: string;
  ServiceID: string;
  Status: 'passing' | 'warning' | 'critical';
}

/** Every node with its address and the health of its own checks, live (blocking queries). */
export function Nodes() {
  const [nodes, setNodes] = useState<CatalogNode[]>([]);
  const [checks, setChecks] = useState<Check[]>([]);
  useEffect(() => {
    const stop = new AbortController();
    void follow<CatalogNode[]>('/v1/catalog/nodes', setNodes, stop.signal);
    void follow<Check[]>('/v1/health/state/any', setChecks, stop.signal);
    return () => stop.abort();
  }, []);
  return (
    <section>
      <h1>Nodes</h1>
      <table>
        <thead>
          <tr>
            <th>Node</th>
            <th>Address</th>
            <th>Datacenter</th>
            <th>Node checks</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((n) => {
            const own = checks.filter((c) => c.Node === n.Node && c.ServiceID === '');
            const critical = own.filter((c) => c.Status === 'critical').length;
            return (
              <tr key={n.Node} data-node={n.Node}>
                <td>{n.Node}</td>
                <td>{n.Address}</td>
                <td>{n.Datacenter}</td>
                <td className={critical > 0 ? 'critical' : 'passing'}>
                  {own.length - critical} passing, {critical} critical
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
