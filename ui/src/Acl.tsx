import { useEffect, useState } from 'react';
import { api, currentToken, errorText, setToken, usePermissions } from './api.js';
import { Alert, Link, useFollow, THead } from './common.js';

interface TokenSelf {
  AccessorID: string;
  Description: string;
  Policies?: Array<{ Name: string }> | null;
  Roles?: Array<{ Name: string }> | null;
}

/**
 * Log in with a token: it is checked with /v1/acl/token/self and kept in this tab's session
 * storage only (never in local storage or the address); log out forgets it.
 */
export function Login() {
  const [secret, setSecret] = useState('');
  const [self, setSelf] = useState<TokenSelf | undefined>(undefined);
  const [error, setError] = useState('');
  const [token, setTok] = useState(currentToken);
  useEffect(() => {
    if (!token) return setSelf(undefined);
    api('/v1/acl/token/self').then(
      async (r) => setSelf((await r.json()) as TokenSelf),
      (err) => setError(errorText(err)),
    );
  }, [token]);
  const login = async (e: React.FormEvent) => {
    e.preventDefault();
    setError('');
    const res = await fetch('/v1/acl/token/self', { headers: { 'X-Consul-Token': secret } });
    if (res.status === 401 || (await res.clone().text()).includes('ACL support disabled')) {
      setError('ACLs are off on this server: every request is allowed without a token.');
      return;
    }
    if (!res.ok) {
      setError(`Login failed: ${res.status} ${(await res.text()).trim()}`);
      return;
    }
    setToken(secret);
    setTok(secret);
    setSecret('');
  };
  if (token && !self && !error) return <p className="login">Checking the token…</p>;
  if (token && self)
    return (
      <div className="login" aria-label="logged in">
        <p>
          Logged in as token {self.AccessorID}
          {self.Description ? ` (${self.Description})` : ''}; policies{' '}
          {[...(self.Policies ?? []), ...(self.Roles ?? [])].map((p) => p.Name).join(', ') || 'none'}.
        </p>
        <button onClick={() => (setToken(''), setTok(''))}>Log out</button>
      </div>
    );
  return (
    <form onSubmit={login} aria-label="log in" className="login">
      <label>
        Token{' '}
        <input
          type="password"
          autoComplete="off"
          aria-label="token"
          value={secret}
          onChange={(e) => setSecret(e.target.value)}
          required
        />
      </label>
      <button type="submit">Log in</button>
      <Alert text={error} />
    </form>
  );
}

interface Policy {
  ID: string;
  Name: string;
  Description: string;
  Rules?: string;
}

/** Policies: the list (live), and a form that creates or edits one, the server's rule errors shown inline. */
function Policies({ canWrite }: { canWrite: boolean }) {
  const list = useFollow<Policy[]>('/v1/acl/policies');
  const [editing, setEditing] = useState<Policy | undefined>(undefined);
  const [error, setError] = useState('');
  const open = async (id: string) => {
    setError('');
    try {
      setEditing((await (await api(`/v1/acl/policy/${encodeURIComponent(id)}`)).json()) as Policy);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!editing) return;
    setError('');
    try {
      const body = JSON.stringify({ Name: editing.Name, Description: editing.Description, Rules: editing.Rules ?? '' });
      const path = editing.ID ? `/v1/acl/policy/${encodeURIComponent(editing.ID)}` : '/v1/acl/policy';
      await api(path, { method: 'PUT', body });
      setEditing(undefined);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <>
      <Alert text={list.error} />
      <table aria-label="policies">
        <THead cols={['Policy', 'Description']} />
        <tbody>
          {(list.data ?? []).map((p) => (
            <tr key={p.ID} data-policy={p.Name}>
              <td>
                <button className="link" onClick={() => void open(p.ID)}>
                  {p.Name}
                </button>
              </td>
              <td>{p.Description}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {canWrite && !editing && (
        <button onClick={() => setEditing({ ID: '', Name: '', Description: '', Rules: '' })}>New policy</button>
      )}
      {editing && (
        <form onSubmit={save} aria-label="policy" className="card">
          <label>
            Name{' '}
            <input
              aria-label="policy name"
              value={editing.Name}
              onChange={(e) => setEditing({ ...editing, Name: e.target.value })}
              readOnly={!canWrite}
              required
            />
          </label>
          <label>
            Description{' '}
            <input
              aria-label="policy description"
              value={editing.Description}
              onChange={(e) => setEditing({ ...editing, Description: e.target.value })}
              readOnly={!canWrite}
            />
          </label>
          <textarea
            aria-label="rules"
            className="code"
            value={editing.Rules ?? ''}
            onChange={(e) => setEditing({ ...editing, Rules: e.target.value })}
            readOnly={!canWrite}
            aria-invalid={error !== ''}
          />
          <Alert text={error} />
          {canWrite && <button type="submit">Save policy</button>}
          <button type="button" onClick={() => (setEditing(undefined), setError(''))}>
            Close
          </button>
        </form>
      )}
      {!editing && <Alert text={error} />}
    </>
  );
}

interface TokenRow {
  AccessorID: string;
  Description: string;
  Local: boolean;
  Policies?: Array<{ Name: string }> | null;
  Roles?: Array<{ Name: string }> | null;
}

/** Tokens (live): accessor, description, policies and roles (secrets are never listed); delete for acl:write. */
function Tokens({ canWrite }: { canWrite: boolean }) {
  const list = useFollow<TokenRow[]>('/v1/acl/tokens');
  const [error, setError] = useState('');
  const remove = async (id: string) => {
    if (!confirm(`Delete token ${id}?`)) return;
    setError('');
    try {
      await api(`/v1/acl/token/${encodeURIComponent(id)}`, { method: 'DELETE' });
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <>
      <Alert text={list.error || error} />
      <table aria-label="tokens">
        <THead cols={['Accessor', 'Description', 'Policies and roles', '']} />
        <tbody>
          {(list.data ?? []).map((t) => (
            <tr key={t.AccessorID} data-token={t.AccessorID}>
              <td>
                <code>{t.AccessorID}</code>
              </td>
              <td>{t.Description}</td>
              <td>{[...(t.Policies ?? []), ...(t.Roles ?? [])].map((p) => p.Name).join(', ')}</td>
              <td>
                {canWrite && (
                  <button className="danger" onClick={() => void remove(t.AccessorID)}>
                    Delete
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** A read-only, live list of an ACL collection (roles, auth methods) with the columns named. */
function Listing({ path, columns, label }: { path: string; columns: Array<[string, string]>; label: string }) {
  const list = useFollow<Array<Record<string, unknown>>>(path);
  const cell = (v: unknown) =>
    Array.isArray(v) ? v.map((x) => (x as { Name?: string }).Name ?? String(x)).join(', ') : String(v ?? '');
  return (
    <>
      <Alert text={list.error} />
      {list.data && list.data.length === 0 && <p>None.</p>}
      <table aria-label={label}>
        <THead cols={columns.map(([, title]) => title)} />
        <tbody>
          {(list.data ?? []).map((row, i) => (
            <tr key={i}>
              {columns.map(([field]) => (
                <td key={field}>{cell(row[field])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

const TABS = ['tokens', 'policies', 'roles', 'auth-methods'] as const;

/** Access control: log in, then tokens, policies, roles and auth methods, as far as the token may read. */
export function Acl({ tab }: { tab: string }) {
  const perms = usePermissions([
    { Resource: 'acl', Access: 'read' },
    { Resource: 'acl', Access: 'write' },
  ]);
  const canRead = perms['acl:read:'] === true;
  const canWrite = perms['acl:write:'] === true;
  const current = (TABS as readonly string[]).includes(tab) ? tab : 'tokens';
  return (
    <section>
      <h1>Access control</h1>
      <Login />
      <nav aria-label="access control" className="tabs">
        {TABS.map((t) => (
          <span key={t} aria-current={current === t ? 'page' : undefined}>
            <Link to={`acl/${t}`}>{t.replace('-', ' ')}</Link>
          </span>
        ))}
      </nav>
      {!canRead && <p>This token may not read ACLs (acl:read): lists below show the server&apos;s refusal.</p>}
      {current === 'tokens' && <Tokens canWrite={canWrite} />}
      {current === 'policies' && <Policies canWrite={canWrite} />}
      {current === 'roles' && (
        <Listing
          path="/v1/acl/roles"
          label="roles"
          columns={[
            ['Name', 'Role'],
            ['Description', 'Description'],
            ['Policies', 'Policies'],
          ]}
        />
      )}
      {current === 'auth-methods' && (
        <Listing
          path="/v1/acl/auth-methods"
          label="auth methods"
          columns={[
            ['Name', 'Auth method'],
            ['Type', 'Type'],
            ['DisplayName', 'Display name'],
            ['Description', 'Description'],
          ]}
        />
      )}
    </section>
  );
}
