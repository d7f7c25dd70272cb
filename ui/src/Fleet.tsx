import { useState } from 'react';
import type { FleetMember } from '../../core/fleet/types.js';
import { Alert, ago, FilterBox, THead, useFollow } from './common.js';

/**
 * The fleet on a server: every edge agent and MQTT device the servers have heard from, with its
 * link state, how far its replica is behind, its outbox depth and when it was last heard. Live:
 * a blocking query on /v1/edge/agents returns whenever a member reports or changes state.
 */
export function Fleet() {
  const fleet = useFollow<FleetMember[]>('/v1/edge/agents');
  const [filter, setFilter] = useState('');
  const [show, setShow] = useState<'all' | 'online' | 'offline'>('all');
  const members = (fleet.data ?? []).filter((m) => m.ID.includes(filter) && (show === 'all' || m.Status === show));
  const offline = (fleet.data ?? []).filter((m) => m.Status === 'offline').length;
  const total = fleet.data?.length ?? 0;
  return (
    <section>
      <h1>Fleet</h1>
      <div className="toolbar">
        <FilterBox value={filter} onChange={setFilter} hint="name" />
        <select aria-label="status" value={show} onChange={(e) => setShow(e.target.value as typeof show)}>
          <option value="all">all</option>
          <option value="online">online</option>
          <option value="offline">offline</option>
        </select>
      </div>
      <Alert text={fleet.error} />
      {fleet.data && (
        <p aria-label="fleet summary">
          {total} {total === 1 ? 'member' : 'members'}, {total - offline} online, {offline} offline
        </p>
      )}
      {fleet.data && fleet.data.length === 0 && <p>No edge agent or device has reported yet.</p>}
      <table aria-label="fleet">
        <THead cols={['Member', 'Kind', 'Link', 'Runtime', 'Replica lag', 'Outbox', 'Last seen', 'Scope']} />
        <tbody>
          {members.map((m) => (
            <tr key={m.ID} data-member={m.ID} data-status={m.Status}>
              <td>{m.ID}</td>
              <td>{m.Kind}</td>
              <td className={m.Status === 'online' ? 'passing' : 'critical'}>
                {m.Status} over {m.Link} (since {new Date(m.StatusSince).toLocaleTimeString()})
              </td>
              <td>{m.Runtime ? `${m.Runtime} ${m.RuntimeVersion} ${m.Arch}` : '—'}</td>
              <td data-lag={Math.max(0, m.ServerIndex - m.ReplicaIndex)}>
                {m.Kind === 'agent'
                  ? `${Math.max(0, m.ServerIndex - m.ReplicaIndex)} entries (at ${m.ReplicaIndex})`
                  : '—'}
              </td>
              <td>{m.OutboxDepth}</td>
              <td title={new Date(m.LastSeen).toISOString()}>
                {ago(m.LastSeen)} via {m.Server}
              </td>
              <td>{[...m.Prefixes, ...m.Services.map((s) => `service ${s}`)].join(', ') || '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
