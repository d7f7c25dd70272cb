import { useEffect, useMemo, useState } from 'react';
import { api, follow } from './api.js';

interface HealthEntry {
  Node: { Node: string };
  Service: { ID: string; Service: string; Tags: string[] | null };
  Checks: Array<{ Status: 'passing' | 'warning' | 'critical' }>;
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

/**
 * Every service with its instance count, health summary (an instance counts at its worst check,
 * its node's checks included) and tags, live: a blocking query on all checks and one on the
 * service list say when something changed, and each service's health is read again then.
 */
export function Services() {
  const [tags, setTags] = useState<Record<string, string[]>>({});
  const [changed, setChanged] = useState(0);
  const [health, setHealth] = useState<Record<string, HealthEntry[]>>({});
  const [filter, setFilter] = useState('');
  useEffect(() => {
    const stop = new AbortController();
    void follow<Record<string, string[]>>('/v1/catalog/services', setTags, stop.signal);
    void follow<unknown>('/v1/health/state/any', () => setChanged((n) => n + 1), stop.signal);
    return () => stop.abort();
  }, []);
  useEffect(() => {
    let current = true;
    void Promise.all(
      Object.keys(tags).map(async (name) => {
        const res = await api(`/v1/health/service/${encodeURIComponent(name)}`);
        return [name, (await res.json()) as HealthEntry[]] as const;
      }),
    ).then(
      (entries) => current && setHealth(Object.fromEntries(entries)),
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [tags, changed]);
  const rows = useMemo<ServiceRow[]>(() => {
    return Object.keys(tags)
      .sort()
      .map((name) => {
        const counts = [0, 0, 0];
        const instances = health[name] ?? [];
        for (const e of instances) {
          const worst = Math.max(0, ...e.Checks.map((c) => RANK[c.Status]));
          counts[worst] = (counts[worst] ?? 0) + 1;
        }
        return {
          name,
          tags: tags[name] ?? [],
          instances: instances.length,
          passing: counts[0] ?? 0,
          warning: counts[1] ?? 0,
          critical: counts[2] ?? 0,
        };
      })
      .filter((r) => r.name.includes(filter) || r.tags.some((t) => t.includes(filter)));
  }, [tags, health, filter]);
  return (
    <section>
      <h1>Services</h1>
      <label>
        Filter <input value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="name or tag" />
      </label>
      <table>
        <thead>
          <tr>
            <th>Service</th>
            <th>Instances</th>
            <th>Health</th>
            <th>Tags</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.name} data-service={r.name}>
              <td>{r.name}</td>
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
