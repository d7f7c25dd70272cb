import { useEffect, useMemo, useState } from 'react';
import { follow } from './api.js';

interface Check {
  ServiceName: string;
  ServiceID: string;
  Node: string;
  Status: 'passing' | 'warning' | 'critical';
}

interface ServiceRow {
  name: string;
  tags: string[];
  instances: number;
  passing: number;
  warning: number;
  critical: number;
}

/** Every service with its instance count, health summary and tags, live (blocking queries). */
export function Services() {
  const [tags, setTags] = useState<Record<string, string[]>>({});
  const [checks, setChecks] = useState<Check[]>([]);
  const [filter, setFilter] = useState('');
  useEffect(() => {
    const stop = new AbortController();
    void follow<Record<string, string[]>>('/v1/catalog/services', setTags, stop.signal);
    void follow<Check[]>('/v1/health/state/any', setChecks, stop.signal);
    return () => stop.abort();
  }, []);
  const rows = useMemo<ServiceRow[]>(() => {
    return Object.keys(tags)
      .sort()
      .map((name) => {
        // An instance's health is the worst of its service checks.
        const worst = new Map<string, number>();
        const rank = { passing: 0, warning: 1, critical: 2 } as const;
        for (const c of checks) {
          if (c.ServiceName !== name || c.ServiceID === '') continue;
          const key = `${c.Node}/${c.ServiceID}`;
          worst.set(key, Math.max(worst.get(key) ?? 0, rank[c.Status]));
        }
        const counts = [0, 0, 0];
        for (const v of worst.values()) counts[v] = (counts[v] ?? 0) + 1;
        return {
          name,
          tags: tags[name] ?? [],
          instances: worst.size,
          passing: counts[0] ?? 0,
          warning: counts[1] ?? 0,
          critical: counts[2] ?? 0,
        };
      })
      .filter((r) => r.name.includes(filter) || r.tags.some((t) => t.includes(filter)));
  }, [tags, checks, filter]);
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
