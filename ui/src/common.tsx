import { type ReactNode, useEffect, useState } from 'react';
import { follow } from './api.js';
import { navigate } from './router.js';

/** A link to a page of the app (`to` below /ui/) that moves without a reload. */
export function Link({ to, children, label }: { to: string; children: ReactNode; label?: string }) {
  return (
    <a
      href={`/ui/${to.split('/').map(encodeURIComponent).join('/')}`}
      aria-label={label}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

/** The page's filter box (what <kbd>/</kbd> focuses). */
export function FilterBox({ value, onChange, hint }: { value: string; onChange: (v: string) => void; hint: string }) {
  return (
    <label>
      Filter{' '}
      <input type="search" value={value} onChange={(e) => onChange(e.target.value)} placeholder={hint} data-filter />
    </label>
  );
}

/**
 * Loads `load(name)` for every name, again whenever `deps` change, and keeps the last complete
 * set of answers by name (a failed round keeps the previous one; an outdated round is dropped).
 */
export function useForEach<T>(
  names: readonly string[],
  load: (name: string) => Promise<T>,
  deps: readonly unknown[],
): Record<string, T> {
  const [out, setOut] = useState<Record<string, T>>({});
  useEffect(() => {
    let current = true;
    void Promise.all(names.map(async (n) => [n, await load(n)] as const)).then(
      (entries) => current && setOut(Object.fromEntries(entries)),
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, deps);
  return out;
}

/** A table's header row with these column titles. */
export function THead({ cols }: { cols: readonly string[] }) {
  return (
    <thead>
      <tr>
        {cols.map((c, i) => (
          <th key={i}>{c}</th>
        ))}
      </tr>
    </thead>
  );
}

/**
 * For buttons that call the API: `act(run)` runs it, and `error` holds the refusal's words (a 403
 * names the missing permission) until the next action.
 */
export function useAction(): { error: string; act: (run: () => Promise<unknown>) => Promise<void> } {
  const [error, setError] = useState('');
  const act = async (run: () => Promise<unknown>) => {
    setError('');
    try {
      await run();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return { error, act };
}

/** An error line (role=alert, so screen readers announce it); nothing when `text` is empty. */
export function Alert({ text }: { text: string }) {
  return text ? (
    <p role="alert" className="error">
      {text}
    </p>
  ) : null;
}

/** A check or health status as a coloured badge. */
export function Status({ status }: { status: string }) {
  return <span className={`badge ${status}`}>{status}</span>;
}

/**
 * The live value of `path` through blocking queries (undefined until the first answer), with the
 * last error's text. Re-subscribes when `path` changes; '' reads nothing.
 */
export function useFollow<T>(path: string): { data: T | undefined; error: string } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  useEffect(() => {
    setData(undefined);
    setError('');
    if (!path) return;
    const stop = new AbortController();
    void follow<T>(
      path,
      (d) => {
        setData(d);
        setError('');
      },
      stop.signal,
      (err) => setError(err instanceof Error ? err.message : String(err)),
    );
    return () => stop.abort();
  }, [path]);
  return { data, error };
}

/** Polls `load` every `everyMs` while mounted (again when `deps` change); the last value and error. */
export function usePoll<T>(
  load: () => Promise<T>,
  everyMs: number,
  deps: readonly unknown[],
): { data?: T; error: string } {
  const [state, setState] = useState<{ data?: T; error: string }>({ error: '' });
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const data = await load();
        if (alive) setState({ data, error: '' });
      } catch (err) {
        if (alive) setState((s) => ({ ...s, error: err instanceof Error ? err.message : String(err) }));
      }
      if (alive) timer = setTimeout(() => void tick(), everyMs);
    };
    void tick();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, deps);
  return state;
}

/** Decodes a KV value (base64 of bytes) as UTF-8 text. */
export function decodeValue(b64: string | null | undefined): string {
  const bytes = Uint8Array.from(atob(b64 ?? ''), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** A relative time such as "12 s ago" from an epoch-ms instant. */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}
