import { useEffect, useState } from 'react';
import { api, errorText, follow, usePermissions } from './api.js';
import { Alert, Link, decodeValue as decode } from './common.js';
import { navigate } from './router.js';

interface KvEntry {
  Key: string;
  Value: string | null;
  Flags: number;
  ModifyIndex: number;
  Session?: string;
}

/** One key as `consul kv export` writes it and `consul kv import` reads it. */
interface ExportedKey {
  key: string;
  flags: number;
  value: string;
}

/** Operations per /v1/txn request the UI sends (Consul allows 128). */
const TXN_BATCH = 64;
/** Most matches a search lists. */
const SEARCH_SHOWN = 200;

const keyUrl = (key: string) => `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;

/** For an edge agent's 202 (the write waits in its outbox): the sentence to show; else undefined. */
async function queuedNote(res: Response): Promise<string | undefined> {
  if (res.status !== 202) return undefined;
  const { OutboxID } = (await res.json()) as { OutboxID: string };
  return `Queued in the agent's outbox (${OutboxID}): written when the servers are reachable again.`;
}

/** Runs KV operations through /v1/txn in batches; the results of every batch, in order. */
async function txnBatches(ops: unknown[]): Promise<{ applied: number; failed: number }> {
  let applied = 0;
  let failed = 0;
  for (let i = 0; i < ops.length; i += TXN_BATCH) {
    const batch = ops.slice(i, i + TXN_BATCH);
    const res = await api('/v1/txn', { method: 'PUT', body: JSON.stringify(batch) }, [409]);
    if (res.status === 409) failed += batch.length;
    else applied += batch.length;
  }
  return { applied, failed };
}

/** Breadcrumbs from the root to `path` (a folder "a/b/" or a key "a/b/c"). */
function Crumbs({ path }: { path: string }) {
  const parts = path.split('/').filter(Boolean);
  return (
    <nav aria-label="breadcrumbs" className="crumbs">
      <Link to="kv/">Key/Value</Link>
      {parts.map((p, i) => {
        const to = `${parts.slice(0, i + 1).join('/')}${i < parts.length - 1 || path.endsWith('/') ? '/' : ''}`;
        return (
          <span key={to}>
            {' / '}
            <Link to={`kv/${to}`}>{p}</Link>
          </span>
        );
      })}
    </nav>
  );
}

/**
 * Deletes every key under `prefix` that the user saw counted: each key is deleted with cas at the
 * index it was listed at, so a key written after the count is kept, never deleted unseen.
 */
function DeleteFolder({ prefix }: { prefix: string }) {
  const [listed, setListed] = useState<KvEntry[] | undefined>(undefined);
  const [result, setResult] = useState('');
  const [error, setError] = useState('');
  const count = async () => {
    setError('');
    setResult('');
    try {
      const res = await api(`${keyUrl(prefix)}?recurse`, {}, [404]);
      setListed(res.status === 404 ? [] : ((await res.json()) as KvEntry[]));
    } catch (err) {
      setError(errorText(err));
    }
  };
  const run = async () => {
    const entries = listed ?? [];
    setListed(undefined);
    try {
      // One txn per key would be slow; a txn fails whole on one stale cas, so retry those one by one.
      let deleted = 0;
      let kept = 0;
      for (let i = 0; i < entries.length; i += TXN_BATCH) {
        const batch = entries.slice(i, i + TXN_BATCH);
        const ops = batch.map((e) => ({ KV: { Verb: 'delete-cas', Key: e.Key, Index: e.ModifyIndex } }));
        const r = await txnBatches(ops);
        if (r.failed === 0) {
          deleted += batch.length;
          continue;
        }
        for (const e of batch) {
          const one = await txnBatches([{ KV: { Verb: 'delete-cas', Key: e.Key, Index: e.ModifyIndex } }]);
          deleted += one.applied;
          kept += one.failed;
        }
      }
      setResult(
        `Deleted ${deleted} key${deleted === 1 ? '' : 's'} under ${prefix || 'the root'}` +
          (kept > 0 ? `; ${kept} changed after the count and were kept.` : '.'),
      );
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <div className="tool">
      {listed === undefined ? (
        <button className="danger" onClick={() => void count()}>
          Delete folder…
        </button>
      ) : (
        <div role="alertdialog" aria-label="confirm delete" className="confirm">
          <p>
            Delete {listed.length} key{listed.length === 1 ? '' : 's'} under {prefix || 'the root'}? Keys written after
            this count are kept.
          </p>
          <button className="danger" onClick={() => void run()} disabled={listed.length === 0}>
            Delete {listed.length} keys
          </button>
          <button onClick={() => setListed(undefined)}>Cancel</button>
        </div>
      )}
      {result && <p role="status">{result}</p>}
      <Alert text={error} />
    </div>
  );
}

/** Searches keys and values under `prefix` (case-insensitive substring), listing at most 200 matches. */
function Search({ prefix }: { prefix: string }) {
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<{ matches: KvEntry[]; total: number; scanned: number } | undefined>(undefined);
  const [error, setError] = useState('');
  const run = async (e: React.FormEvent) => {
    e.preventDefault();
    setError('');
    try {
      const res = await api(`${keyUrl(prefix)}?recurse`, {}, [404]);
      const entries = res.status === 404 ? [] : ((await res.json()) as KvEntry[]);
      const q = query.toLowerCase();
      const all = entries.filter(
        (en) => en.Key.toLowerCase().includes(q) || decode(en.Value).toLowerCase().includes(q),
      );
      setFound({ matches: all.slice(0, SEARCH_SHOWN), total: all.length, scanned: entries.length });
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form onSubmit={run} aria-label="search keys" className="tool">
      <input
        type="search"
        aria-label="search"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        placeholder="search keys and values"
        required
        data-filter
      />
      <button type="submit">Search</button>
      <Alert text={error} />
      {found && (
        <div aria-label="search results">
          <p>
            {found.total} of {found.scanned} keys match
            {found.total > found.matches.length ? ` (first ${found.matches.length} shown)` : ''}.
          </p>
          <ul>
            {found.matches.map((m) => (
              <li key={m.Key}>
                <Link to={`kv/${m.Key}`}>{m.Key}</Link>
              </li>
            ))}
          </ul>
        </div>
      )}
    </form>
  );
}

/** Export of a folder as Consul's JSON (a file download) and import of such a file into the folder. */
function ExportImport({ prefix, canWrite }: { prefix: string; canWrite: boolean }) {
  const [status, setStatus] = useState('');
  const [error, setError] = useState('');
  const exportAll = async () => {
    setError('');
    try {
      const res = await api(`${keyUrl(prefix)}?recurse`, {}, [404]);
      const entries = res.status === 404 ? [] : ((await res.json()) as KvEntry[]);
      const out: ExportedKey[] = entries.map((e) => ({ key: e.Key, flags: e.Flags, value: e.Value ?? '' }));
      const url = URL.createObjectURL(new Blob([JSON.stringify(out, null, 2)], { type: 'application/json' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `${(prefix || 'kv').replace(/\/$/, '').replaceAll('/', '_') || 'kv'}.json`;
      a.click();
      URL.revokeObjectURL(url);
      setStatus(`Exported ${out.length} keys.`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const importFile = async (file: File) => {
    setError('');
    setStatus('');
    try {
      const parsed = JSON.parse(await file.text()) as unknown;
      if (!Array.isArray(parsed)) throw new Error('not an export: expected a JSON array of {key, flags, value}');
      const ops = parsed.map((item: unknown, i) => {
        const k = item as Partial<ExportedKey>;
        if (typeof k?.key !== 'string' || typeof k.value !== 'string')
          throw new Error(`entry ${i} is not {key, flags, value} with string key and base64 value`);
        if (!k.key.startsWith(prefix)) throw new Error(`entry ${i}: key ${k.key} is not under ${prefix || 'the root'}`);
        return { KV: { Verb: 'set', Key: k.key, Value: k.value, Flags: Number(k.flags ?? 0) } };
      });
      const r = await txnBatches(ops);
      setStatus(`Imported ${r.applied} keys${r.failed > 0 ? `, ${r.failed} refused` : ''}.`);
    } catch (err) {
      setError(`Import failed: ${errorText(err)}`);
    }
  };
  return (
    <div className="tool">
      <button onClick={() => void exportAll()}>Export folder</button>
      {canWrite && (
        <label className="file">
          Import JSON{' '}
          <input
            type="file"
            accept="application/json,.json"
            aria-label="import file"
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) void importFile(f);
              e.target.value = '';
            }}
          />
        </label>
      )}
      {status && <p role="status">{status}</p>}
      <Alert text={error} />
    </div>
  );
}

/** A folder: its keys and subfolders (live), and for a token that may write: create, import, delete. */
function Folder({ prefix }: { prefix: string }) {
  const [keys, setKeys] = useState<string[]>([]);
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [error, setError] = useState('');
  const [note, setNote] = useState('');
  const perms = usePermissions([
    { Resource: 'key', Segment: prefix, Access: 'write' },
    { Resource: 'key', Segment: prefix, Access: 'list' },
  ]);
  const canWrite = perms[`key:write:${prefix}`] === true;
  // Consul filters what a token may not read out of a listing: say so rather than show "no keys".
  const cannotList = perms[`key:list:${prefix}`] === false;
  useEffect(() => {
    const stop = new AbortController();
    setKeys([]);
    setError('');
    void follow<string[]>(
      `${keyUrl(prefix)}?keys&separator=/`,
      setKeys,
      stop.signal,
      (err) => setError(errorText(err)),
      [],
    );
    return () => stop.abort();
  }, [prefix]);
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    setError('');
    try {
      const res = await api(`${keyUrl(prefix + name)}?cas=0`, { method: 'PUT', body: value });
      const queued = await queuedNote(res);
      setNote(queued ?? '');
      if (!queued && (await res.text()).trim() !== 'true') setError(`${prefix + name} exists already: not overwritten`);
      else {
        setName('');
        setValue('');
      }
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <>
      <Crumbs path={prefix} />
      <ul className="keys">
        {keys.map((k) => (
          <li key={k}>
            <Link to={`kv/${k}`}>{k.slice(prefix.length)}</Link>
          </li>
        ))}
      </ul>
      {keys.length === 0 && !cannotList && <p>No keys here.</p>}
      {cannotList && (
        <p role="alert" className="error">
          This token may not list keys under {prefix || 'the root'} (key:list): the server shows only what it may read.
        </p>
      )}
      <Search prefix={prefix} />
      <ExportImport prefix={prefix} canWrite={canWrite} />
      {canWrite && (
        <>
          <form onSubmit={create} aria-label="create key">
            <h2>New key</h2>
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
          {prefix !== '' && <DeleteFolder prefix={prefix} />}
        </>
      )}
      {note && <p role="status">{note}</p>}
      <Alert text={error} />
    </>
  );
}

interface SessionInfo {
  ID: string;
  Name: string;
  Node: string;
}

/** The session holding a locked key: its name and node, linked to the Sessions page. */
function LockHolder({ id }: { id: string }) {
  const [info, setInfo] = useState<SessionInfo | null | undefined>(undefined);
  useEffect(() => {
    api(`/v1/session/info/${encodeURIComponent(id)}`).then(
      async (r) => setInfo(((await r.json()) as SessionInfo[] | null)?.[0] ?? null),
      () => setInfo(null),
    );
  }, [id]);
  return (
    <p className="lock" data-lock-session={id}>
      Locked by session <Link to={`sessions/${id}`}>{info?.Name ? `${info.Name} (${id})` : id}</Link>
      {info?.Node ? ` on node ${info.Node}` : ''}
    </p>
  );
}

/** One key: its value as text, JSON or base64 (live); edit saves with cas and shows a conflict. */
function Key({ keyName }: { keyName: string }) {
  const [entry, setEntry] = useState<KvEntry | null | undefined>(undefined);
  const [view, setView] = useState<'text' | 'json' | 'base64'>('text');
  const [draft, setDraft] = useState<{ text: string; index: number } | undefined>(undefined);
  const [conflict, setConflict] = useState<KvEntry | undefined>(undefined);
  const [error, setError] = useState('');
  const perms = usePermissions([{ Resource: 'key', Segment: keyName, Access: 'write' }]);
  const canWrite = perms[`key:write:${keyName}`] === true;
  useEffect(() => {
    const stop = new AbortController();
    void follow<KvEntry[]>(
      keyUrl(keyName),
      (list) => setEntry(list[0] ?? null),
      stop.signal,
      (err) => setError(errorText(err)),
      [],
    );
    return () => stop.abort();
  }, [keyName]);
  if (entry === undefined)
    return (
      <>
        <Crumbs path={keyName} />
        <Alert text={error} />
      </>
    );
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
      const queued = await queuedNote(res);
      if (queued) {
        setError(queued);
        setDraft(undefined);
        return;
      }
      if ((await res.text()).trim() === 'true') {
        setDraft(undefined);
        setConflict(undefined);
        return;
      }
      // Someone else changed it since it was loaded: show both, overwrite nothing.
      const now = (await (await api(keyUrl(keyName))).json()) as KvEntry[];
      setConflict(now[0]);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const remove = async () => {
    if (!confirm(`Delete ${keyName}?`)) return;
    setError('');
    try {
      const res = await api(`${keyUrl(keyName)}?cas=${entry.ModifyIndex}`, { method: 'DELETE' });
      const queued = await queuedNote(res);
      if (queued) setError(queued);
      else if ((await res.text()).trim() !== 'true') setError(`${keyName} changed meanwhile: not deleted`);
      else navigate(`kv/${keyName.slice(0, keyName.lastIndexOf('/') + 1)}`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <>
      <Crumbs path={keyName} />
      <p>
        ModifyIndex {entry.ModifyIndex}, flags {entry.Flags}
      </p>
      {entry.Session && <LockHolder id={entry.Session} />}
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
          {canWrite && (
            <div className="actions">
              <button onClick={() => setDraft({ text, index: entry.ModifyIndex })}>Edit</button>
              <button className="danger" onClick={() => void remove()}>
                Delete
              </button>
            </div>
          )}
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
      <Alert text={error} />
    </>
  );
}

/** The Key/Value page: a folder (path ending in "/") or one key. */
export function Kv({ path }: { path: string }) {
  return <section>{path === '' || path.endsWith('/') ? <Folder prefix={path} /> : <Key keyName={path} />}</section>;
}
