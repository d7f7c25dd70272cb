import type { OutboxItemJson as OutboxItem } from '../../edge/api.js';
import { api } from './api.js';
import { Alert, usePoll, THead } from './common.js';

interface EdgeStatus {
  Agent: string;
  Runtime: string;
  Upstream: string;
  Sync: string;
  Connected: boolean;
  Index: number;
  LastContactMs: number;
  Scope: { Prefixes: string[]; Services: string[] };
  Outbox: { Pending: number; Kept: number };
  Storage: string;
  RssBytes: number | null;
}

/**
 * On an edge agent: its link to the servers, replica index, scope, and the writes in its outbox
 * with their outcomes (refreshed every second).
 */
export function Edge() {
  const status = usePoll(async () => (await (await api('/v1/edge/status')).json()) as EdgeStatus, 1000, []);
  const outbox = usePoll(async () => (await (await api('/v1/edge/outbox')).json()) as OutboxItem[], 1000, []);
  const s = status.data;
  return (
    <section>
      <h1>Edge agent</h1>
      <Alert text={status.error || outbox.error} />
      {s && (
        <dl aria-label="edge status">
          <dt>Agent</dt>
          <dd>
            {s.Agent} ({s.Runtime})
          </dd>
          <dt>Link</dt>
          <dd className={s.Connected ? 'passing' : 'critical'} data-link={s.Connected ? 'up' : 'down'}>
            {s.Connected ? 'connected' : 'offline'} to {s.Upstream} over {s.Sync}, last message{' '}
            {Math.round(s.LastContactMs / 1000)} s ago
          </dd>
          <dt>Replica index</dt>
          <dd>{s.Index}</dd>
          <dt>Scope</dt>
          <dd>
            keys under {s.Scope.Prefixes.join(', ') || 'none'}; services {s.Scope.Services.join(', ') || 'none'}
          </dd>
          <dt>Outbox</dt>
          <dd>
            {s.Outbox.Pending} pending, {s.Outbox.Kept} kept
          </dd>
          <dt>Memory</dt>
          <dd>{s.RssBytes ? `${(s.RssBytes / 1048576).toFixed(1)} MB RSS` : 'not reported'}</dd>
        </dl>
      )}
      <h2>Outbox</h2>
      {outbox.data && outbox.data.length === 0 && <p>No queued writes.</p>}
      <table aria-label="outbox">
        <THead cols={['Write', 'Status', 'Queued', 'Attempts', 'Outcome']} />
        <tbody>
          {(outbox.data ?? []).map((i) => (
            <tr key={i.ID} data-outbox={i.ID}>
              <td>
                {i.Method} {i.Path}
              </td>
              <td>{i.Status}</td>
              <td>{new Date(i.CreatedAt).toLocaleTimeString()}</td>
              <td>{i.Attempts}</td>
              <td>{i.Result ? `${i.Result.StatusCode} ${i.Result.Body.slice(0, 80)}` : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
