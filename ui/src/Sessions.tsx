import { useEffect, useState } from 'react';
import { api, errorText, usePermissions } from './api.js';
import { Alert, Link, useFollow, THead } from './common.js';
import { navigate } from './router.js';

interface Session {
  ID: string;
  Name: string;
  Node: string;
  Behavior: string;
  TTL: string;
  LockDelay: number;
  NodeChecks: string[] | null;
  ServiceChecks: Array<{ ID: string }> | null;
  CreateIndex: number;
}

/** Every session with its node, behaviour and TTL, live (a blocking query on the list). */
export function Sessions() {
  const { data, error } = useFollow<Session[]>('/v1/session/list');
  return (
    <section>
      <h1>Sessions</h1>
      <Alert text={error} />
      {data && data.length === 0 && <p>No sessions.</p>}
      <table>
        <THead cols={['Session', 'Name', 'Node', 'Behavior', 'TTL']} />
        <tbody>
          {(data ?? []).map((s) => (
            <tr key={s.ID} data-session={s.ID}>
              <td>
                <Link to={`sessions/${s.ID}`}>{s.ID}</Link>
              </td>
              <td>{s.Name}</td>
              <td>
                <Link to={`nodes/${s.Node}`}>{s.Node}</Link>
              </td>
              <td>{s.Behavior}</td>
              <td>{s.TTL || '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

interface HeldKey {
  Key: string;
  Session?: string;
}

/**
 * One session: its details, the keys it holds (read from the KV store under the whole tree the
 * token may read), and invalidation for a token with session:write on its node.
 */
export function SessionDetail({ id }: { id: string }) {
  const { data, error } = useFollow<Session[] | null>(`/v1/session/info/${encodeURIComponent(id)}`);
  const [held, setHeld] = useState<string[] | undefined>(undefined);
  const [actionError, setActionError] = useState('');
  const s = data?.[0];
  const perms = usePermissions(s ? [{ Resource: 'session', Segment: s.Node, Access: 'write' }] : []);
  const canWrite = s !== undefined && perms[`session:write:${s.Node}`] === true;
  useEffect(() => {
    let current = true;
    api('/v1/kv/?recurse', {}, [404]).then(
      async (r) => {
        const all = r.status === 404 ? [] : ((await r.json()) as HeldKey[]);
        if (current) setHeld(all.filter((k) => k.Session === id).map((k) => k.Key));
      },
      () => current && setHeld(undefined),
    );
    return () => {
      current = false;
    };
  }, [id, data]);
  const invalidate = async () => {
    if (!confirm(`Invalidate session ${id}? Its locks are released (or their keys deleted, per its behavior).`)) return;
    setActionError('');
    try {
      await api(`/v1/session/destroy/${encodeURIComponent(id)}`, { method: 'PUT' });
      navigate('sessions');
    } catch (err) {
      setActionError(errorText(err));
    }
  };
  return (
    <section>
      <p>
        <Link to="sessions">Sessions</Link> / {id}
      </p>
      <h1>Session {s?.Name || id}</h1>
      <Alert text={error} />
      <Alert text={actionError} />
      {data !== undefined && !s && <p>No session {id}: it has ended.</p>}
      {s && (
        <dl>
          <dt>ID</dt>
          <dd>{s.ID}</dd>
          <dt>Node</dt>
          <dd>
            <Link to={`nodes/${s.Node}`}>{s.Node}</Link>
          </dd>
          <dt>Behavior</dt>
          <dd>{s.Behavior}</dd>
          <dt>TTL</dt>
          <dd>{s.TTL || '—'}</dd>
          <dt>Lock delay</dt>
          <dd>{Math.round(s.LockDelay / 1e9)} s</dd>
          <dt>Checks</dt>
          <dd>{[...(s.NodeChecks ?? []), ...(s.ServiceChecks ?? []).map((c) => c.ID)].join(', ') || '—'}</dd>
        </dl>
      )}
      <h2>Held keys</h2>
      {held === undefined ? (
        <p>Not readable with this token.</p>
      ) : held.length === 0 ? (
        <p>None.</p>
      ) : (
        <ul aria-label="held keys">
          {held.map((k) => (
            <li key={k}>
              <Link to={`kv/${k}`}>{k}</Link>
            </li>
          ))}
        </ul>
      )}
      {s && canWrite && (
        <button className="danger" onClick={() => void invalidate()}>
          Invalidate
        </button>
      )}
    </section>
  );
}
