import { useEffect, useState } from 'react';
import { api, follow } from './api.js';
import { navigate } from './router.js';

interface KvEntry {
  Key: string;
  Value: string | null;
  Flags: number;
  ModifyIndex: number;
  Session?: string;
}

const keyUrl = (key: string) => `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
const decode = (b64: string | null) => {
  const bytes = Uint8Array.from(atob(b64 ?? ''), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
};

/** Breadcrumbs from the root to `path` (a folder "a/b/" or a key "a/b/c"). */
function Crumbs({ path }: { path: string }) {
  const parts = path.split('/').filter(Boolean);
  return (
    <nav aria-label="breadcrumbs" className="crumbs">
      <a href="/ui/kv/" onClick={(e) => (e.preventDefault(), navigate('kv/'))}>
        Key/Value
      </a>
      {parts.map((p, i) => {
        const to = `${parts.slice(0, i + 1).join('/')}${i < parts.length - 1 || path.endsWith('/') ? '/' : ''}`;
        return (
          <span key={to}>
            {' / '}
            <a href={`/ui/kv/${to}`} onClick={(e) => (e.preventDefault(), navigate(`kv/${to}`))}>
              {p}
            </a>
          </span>
        );
      })}
    </nav>
  );
}

/** A folder: its keys and subfolders (live), and a form to create a key in it. */
function Folder({ prefix }: { prefix: string }) {
  const [keys, setKeys] = useState<string[]>([]);
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [error, setError] = useState('');
  useEffect(() => {
    const stop = new AbortController();
    setKeys([]);
    void follow<string[]>(`${keyUrl(prefix)}?keys&separator=/`, setKeys, stop.signal);
    return () => stop.abort();
  }, [prefix]);
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    setError('');
    try {
      const res = await api(`${keyUrl(prefix + name)}?cas=0`, { method: 'PUT', body: value });
      if ((await res.text()).trim() !== 'true') setError(`${prefix + name} exists already: not overwritten`);
      else {
        setName('');
        setValue('');
      }
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <>
      <Crumbs path={prefix} />
      <ul className="keys">
        {keys.map((k) => (
          <li key={k}>
            <a href={`/ui/kv/${k}`} onClick={(e) => (e.preventDefault(), navigate(`kv/${k}`))}>
              {k.slice(prefix.length)}
            </a>
          </li>
        ))}
      </ul>
      <form onSubmit={create} aria-label="create key">
        <input
          aria-label="new key"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="key or folder/key"
          required
        />
        <textarea aria-label="new value" value={value} onChange={(e) => setValue(e.target.value)} />
        <button type="submit">Create</button>
      </form>
      {error && <p role="alert">{error}</p>}
    </>
  );
}

/** One key: its value as text, JSON or base64 (live); edit saves with cas and shows a conflict. */
function Key({ keyName }: { keyName: string }) {
  const [entry, setEntry] = useState<KvEntry | null | undefined>(undefined);
  const [view, setView] = useState<'text' | 'json' | 'base64'>('text');
  const [draft, setDraft] = useState<{ text: string; index: number } | undefined>(undefined);
  const [conflict, setConflict] = useState<KvEntry | undefined>(undefined);
  const [error, setError] = useState('');
  useEffect(() => {
    const stop = new AbortController();
    void follow<KvEntry[]>(keyUrl(keyName), (list) => setEntry(list[0] ?? null), stop.signal).catch(() => undefined);
    return () => stop.abort();
  }, [keyName]);
  if (entry === undefined) return <Crumbs path={keyName} />;
  if (entry === null)
    return (
      <>
        <Crumbs path={keyName} />
        <p>No key {keyName}.</p>
      </>
    );
  const text = decode(entry.Value);
  let shown = text;
  let jsonError = '';
  if (view === 'base64') shown = entry.Value ?? '';
  if (view === 'json') {
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch (err) {
      jsonError = `not valid JSON: ${(err as Error).message}`;
    }
  }
  const save = async (text: string, index: number) => {
    setError('');
    try {
      const res = await api(`${keyUrl(keyName)}?cas=${index}`, { method: 'PUT', body: text });
      if ((await res.text()).trim() === 'true') {
        setDraft(undefined);
        setConflict(undefined);
        return;
      }
      // Someone else changed it since it was loaded: show both, overwrite nothing.
      const now = (await (await api(keyUrl(keyName))).json()) as KvEntry[];
      setConflict(now[0]);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <>
      <Crumbs path={keyName} />
      <p>
        ModifyIndex {entry.ModifyIndex}, flags {entry.Flags}
        {entry.Session ? `, locked by session ${entry.Session}` : ''}
      </p>
      <div role="group" aria-label="view as">
        {(['text', 'json', 'base64'] as const).map((v) => (
          <button key={v} aria-pressed={view === v} onClick={() => setView(v)}>
            {v}
          </button>
        ))}
      </div>
      {draft === undefined ? (
        <>
          <pre className="value">{jsonError || shown}</pre>
          <button onClick={() => setDraft({ text, index: entry.ModifyIndex })}>Edit</button>
        </>
      ) : (
        <form
          aria-label="edit value"
          onSubmit={(e) => {
            e.preventDefault();
            void save(draft.text, draft.index);
          }}
        >
          <textarea
            aria-label="value"
            value={draft.text}
            onChange={(e) => setDraft({ ...draft, text: e.target.value })}
          />
          <button type="submit">Save</button>
          <button type="button" onClick={() => (setDraft(undefined), setConflict(undefined))}>
            Cancel
          </button>
        </form>
      )}
      {conflict && draft && (
        <div role="alert" className="conflict">
          <p>
            Someone else changed {keyName} (now at index {conflict.ModifyIndex}) while you edited it.
          </p>
          <h3>Theirs</h3>
          <pre>{decode(conflict.Value)}</pre>
          <h3>Yours</h3>
          <pre>{draft.text}</pre>
          <button onClick={() => void save(draft.text, conflict.ModifyIndex)}>Overwrite with mine</button>
          <button onClick={() => (setDraft(undefined), setConflict(undefined))}>Keep theirs</button>
        </div>
      )}
      {error && <p role="alert">{error}</p>}
    </>
  );
}

/** The Key/Value page: a folder (path ending in "/") or one key. */
export function Kv({ path }: { path: string }) {
  return <section>{path === '' || path.endsWith('/') ? <Folder prefix={path} /> : <Key keyName={path} />}</section>;
}
