import { useEffect, useMemo, useRef, useState } from 'react';
import { api, errorText, follow, usePermissions } from './api.js';
import { Alert, FilterBox, Link, Status, ago, useFollow, useForEach, THead, useAction } from './common.js';

/** A check as the health endpoints answer it. */
export interface Check {
  Node: string;
  CheckID: string;
  Name: string;
  Status: 'passing' | 'warning' | 'critical';
  Output: string;
  Notes: string;
  ServiceID: string;
  ServiceName: string;
  Type: string;
  ModifyIndex: number;
}

/** One instance as /v1/health/service answers it. */
export interface HealthEntry {
  Node: { Node: string; Address: string };
  Service: {
    ID: string;
    Service: string;
    Tags: string[] | null;
    Address: string;
    Port: number;
    Meta: Record<string, string> | null;
  };
  Checks: Check[];
}

interface ServiceRow {
  name: string;
  tags: string[];
  instances: number;
  passing: number;
  warning: number;
  critical: number;
}

const RANK = { passing: 0, warning: 1, critical: 2 } as const;
const WORST = ['passing', 'warning', 'critical'] as const;

/** An instance's health: its worst check, its node's checks included. */
export const worstOf = (checks: readonly Check[]): (typeof WORST)[number] =>
  WORST[Math.max(0, ...checks.map((c) => RANK[c.Status]))] ?? 'passing';

/**
 * Every service with its instance count, health summary (an instance counts at its worst check,
 * its node's checks included) and tags, live: a blocking query on all checks and one on the
 * service list say when something changed, and each service's health is read again then.
 * Filters by name or tag and by health.
 */
export function Services() {
  const [tags, setTags] = useState<Record<string, string[]>>({});
  const [changed, setChanged] = useState(0);
  const [filter, setFilter] = useState('');
  const [state, setState] = useState<'' | 'passing' | 'warning' | 'critical'>('');
  const [error, setError] = useState('');
  useEffect(() => {
    const stop = new AbortController();
    const onError = (err: unknown) => setError(errorText(err));
    void follow<Record<string, string[]>>('/v1/catalog/services', setTags, stop.signal, onError);
    void follow<unknown>('/v1/health/state/any', () => setChanged((n) => n + 1), stop.signal, onError);
    return () => stop.abort();
  }, []);
  const health = useForEach(
    Object.keys(tags),
    async (name) => (await (await api(`/v1/health/service/${encodeURIComponent(name)}`)).json()) as HealthEntry[],
    [tags, changed],
  );
  const rows = useMemo<ServiceRow[]>(() => {
    return Object.keys(tags)
      .sort()
      .map((name) => {
        const counts = { passing: 0, warning: 0, critical: 0 };
        const instances = health[name] ?? [];
        for (const e of instances) counts[worstOf(e.Checks)]++;
        return { name, tags: tags[name] ?? [], instances: instances.length, ...counts };
      })
      .filter((r) => r.name.includes(filter) || r.tags.some((t) => t.includes(filter)))
      .filter((r) => state === '' || r[state] > 0);
  }, [tags, health, filter, state]);
  return (
    <section>
      <h1>Services</h1>
      <div className="toolbar">
        <FilterBox value={filter} onChange={setFilter} hint="name or tag" />
        <label>
          Health{' '}
          <select value={state} onChange={(e) => setState(e.target.value as typeof state)} aria-label="health">
            <option value="">any</option>
            <option value="passing">with passing instances</option>
            <option value="warning">with warning instances</option>
            <option value="critical">with critical instances</option>
          </select>
        </label>
      </div>
      <Alert text={error} />
      <table>
        <THead cols={['Service', 'Instances', 'Health', 'Tags']} />
        <tbody>
          {rows.map((r) => (
            <tr key={r.name} data-service={r.name}>
              <td>
                <Link to={`services/${r.name}`}>{r.name}</Link>
              </td>
              <td>{r.instances}</td>
              <td>
                <span className="passing">{r.passing} passing</span>{' '}
                <span className="warning">{r.warning} warning</span>{' '}
                <span className="critical">{r.critical} critical</span>
              </td>
              <td>{r.tags.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** The node the answering agent runs as (its own services may be deregistered and put in maintenance). */
export function useAgentNode(): string {
  const [node, setNode] = useState('');
  useEffect(() => {
    api('/v1/agent/self').then(
      async (r) => setNode(((await r.json()) as { Config?: { NodeName?: string } }).Config?.NodeName ?? ''),
      () => setNode(''),
    );
  }, []);
  return node;
}

/**
 * Keeps, per check, when this page saw its status or output change (epoch ms): the API has no
 * time of change, only ModifyIndex, so a change seen live is dated by the browser.
 */
function useSeenChanges(checks: readonly Check[]): Record<string, number> {
  const last = useRef(new Map<string, string>());
  const [seen, setSeen] = useState<Record<string, number>>({});
  useEffect(() => {
    const changed: Record<string, number> = {};
    for (const c of checks) {
      const id = `${c.Node}/${c.CheckID}`;
      const sig = `${c.Status}\u0000${c.Output}`;
      const before = last.current.get(id);
      if (before !== undefined && before !== sig) changed[id] = Date.now();
      last.current.set(id, sig);
    }
    if (Object.keys(changed).length > 0) setSeen((s) => ({ ...s, ...changed }));
  }, [checks]);
  return seen;
}

/**
 * One service: its instances with address, port, node, tags and meta, each check with its status,
 * output and last change, live; deregistration and maintenance for a token with service:write.
 */
export function ServiceDetail({ name }: { name: string }) {
  const { data, error } = useFollow<HealthEntry[]>(`/v1/health/service/${encodeURIComponent(name)}`);
  const agentNode = useAgentNode();
  const perms = usePermissions([{ Resource: 'service', Segment: name, Access: 'write' }]);
  const canWrite = perms[`service:write:${name}`] === true;
  const { error: actionError, act } = useAction();
  const allChecks = useMemo(() => (data ?? []).flatMap((e) => e.Checks), [data]);
  const seen = useSeenChanges(allChecks);
  return (
    <section>
      <p>
        <Link to="services">Services</Link> / {name}
      </p>
      <h1>{name}</h1>
      <Alert text={error} />
      <Alert text={actionError} />
      {data && data.length === 0 && <p>No instances of {name}.</p>}
      {(data ?? []).map((e) => {
        const own = e.Node.Node === agentNode;
        const inMaintenance = e.Checks.some((c) => c.CheckID === `_service_maintenance:${e.Service.ID}`);
        return (
          <article key={`${e.Node.Node}/${e.Service.ID}`} className="card" data-instance={e.Service.ID}>
            <h2>
              {e.Service.ID} <Status status={worstOf(e.Checks)} />
            </h2>
            <dl>
              <dt>Node</dt>
              <dd>
                <Link to={`nodes/${e.Node.Node}`}>{e.Node.Node}</Link>
              </dd>
              <dt>Address</dt>
              <dd>
                {e.Service.Address || e.Node.Address}:{e.Service.Port}
              </dd>
              <dt>Tags</dt>
              <dd>{(e.Service.Tags ?? []).join(', ') || '—'}</dd>
              <dt>Meta</dt>
              <dd>
                {Object.entries(e.Service.Meta ?? {})
                  .map(([k, v]) => `${k}=${v}`)
                  .join(', ') || '—'}
              </dd>
            </dl>
            <CheckTable checks={e.Checks} seen={seen} />
            {canWrite && (
              <div className="actions">
                {own && (
                  <button
                    onClick={() =>
                      void act(() =>
                        api(
                          `/v1/agent/service/maintenance/${encodeURIComponent(e.Service.ID)}?enable=${!inMaintenance}` +
                            `&reason=${encodeURIComponent('set from the Web UI')}`,
                          { method: 'PUT' },
                        ),
                      )
                    }
                  >
                    {inMaintenance ? 'End maintenance' : 'Enter maintenance'}
                  </button>
                )}
                <button
                  className="danger"
                  onClick={() => {
                    if (!confirm(`Deregister ${e.Service.ID} on ${e.Node.Node}?`)) return;
                    void act(() =>
                      own
                        ? api(`/v1/agent/service/deregister/${encodeURIComponent(e.Service.ID)}`, { method: 'PUT' })
                        : api('/v1/catalog/deregister', {
                            method: 'PUT',
                            body: JSON.stringify({ Node: e.Node.Node, ServiceID: e.Service.ID }),
                          }),
                    );
                  }}
                >
                  Deregister
                </button>
              </div>
            )}
          </article>
        );
      })}
    </section>
  );
}

/** Checks with status, output and last change (the index, and the time when seen live). */
export function CheckTable({ checks, seen }: { checks: readonly Check[]; seen: Record<string, number> }) {
  return (
    <table className="checks">
      <THead cols={['Check', 'Status', 'Output', 'Last change']} />
      <tbody>
        {checks.map((c) => {
          const at = seen[`${c.Node}/${c.CheckID}`];
          return (
            <tr key={`${c.Node}/${c.CheckID}`} data-check={c.CheckID}>
              <td>
                {c.Name} <small>({c.ServiceID ? c.Type || 'service' : 'node'})</small>
              </td>
              <td>
                <Status status={c.Status} />
              </td>
              <td>
                <pre className="output">{c.Output}</pre>
              </td>
              <td>
                index {c.ModifyIndex}
                {at !== undefined ? `, ${ago(at)}` : ''}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
