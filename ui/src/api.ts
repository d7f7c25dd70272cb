import { useEffect, useState } from 'react';
import { SseParser } from '../../core/sync/sse-parser.js';

/** The ACL token the UI sends, kept in the browser's session storage only. */
export const TOKEN_KEY = 'konsul-token';

/** A non-2xx answer: its status and the server's own words (a 403 names the missing permission). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(`${status}: ${reason}`);
  }
}

/** The token this tab sends (session storage), or '' for none. */
export function currentToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

/** Sets (or with '' clears) the tab's token and tells every page to re-read what it may do. */
export function setToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  dispatchEvent(new Event('konsul-token'));
}

/**
 * Calls the HTTP API with the session's token; rejects with an ApiError carrying the server's
 * words on a non-2xx answer (statuses in `accept` excepted).
 */
export async function api(path: string, init: RequestInit = {}, accept: number[] = []): Promise<Response> {
  const token = currentToken();
  const headers = new Headers(init.headers);
  if (token) headers.set('X-Consul-Token', token);
  const res = await fetch(path, { ...init, headers });
  if (!res.ok && !accept.includes(res.status)) throw new ApiError(res.status, (await res.text()).trim());
  return res;
}

/** The message to show for a failed call. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Follows `path` with blocking queries: `onData` gets the first answer and then every answer
 * whose X-Consul-Index moved, until `signal` aborts. A 404 answer counts as `notFound` when that
 * is given (an empty folder, a key not yet written) and the query goes on blocking; otherwise a
 * 403 or 404 ends it. Other errors go to `onError` (if given), wait 1 s and retry. An answer
 * without X-Consul-Index (a route that does not block) is read again after 1 s.
 */
export async function follow<T>(
  path: string,
  onData: (data: T) => void,
  signal: AbortSignal,
  onError?: (err: unknown) => void,
  notFound?: T,
): Promise<void> {
  let index = 0;
  while (!signal.aborted) {
    try {
      const sep = path.includes('?') ? '&' : '?';
      const accept = notFound === undefined ? [] : [404];
      const res = await api(index > 0 ? `${path}${sep}index=${index}&wait=30s` : path, { signal }, accept);
      const next = Number(res.headers.get('X-Consul-Index') ?? 0);
      const data = res.status === 404 ? (notFound as T) : ((await res.json()) as T);
      if (next !== index || index === 0) onData(data);
      index = next < index ? 0 : next;
      // A route that does not block (no index) is polled once a second instead.
      if (next === 0) await new Promise((r) => setTimeout(r, 1000));
    } catch (err) {
      if (signal.aborted) return;
      onError?.(err);
      if (err instanceof ApiError && (err.status === 403 || err.status === 404)) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** One Server-Sent Event as a watch stream sends it. */
export interface StreamEvent {
  readonly event: string;
  readonly id: string;
  readonly data: string;
}

/**
 * Reads the SSE stream at `path` (a `/v1/watch/*` route) with fetch, so the token travels in a
 * header and never in the address: `onEvent` gets each event. It reconnects after a drop from the
 * last event id, and calls `onResync` when the server says the stream cannot continue without a
 * gap (the page then re-reads its state). Ends when `signal` aborts. At most 1 MiB of a partial
 * event is buffered.
 */
export async function stream(
  path: string,
  onEvent: (e: StreamEvent) => void,
  signal: AbortSignal,
  onResync: () => void = () => undefined,
): Promise<void> {
  let lastId = '';
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = lastId ? { 'Last-Event-ID': lastId } : {};
      const res = await api(path, { signal, headers });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser(1 << 20);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const e of parser.push(decoder.decode(value, { stream: true }))) {
          if (e.event === 'resync') {
            lastId = '';
            onResync();
            continue;
          }
          if (e.id) lastId = e.id;
          onEvent({ event: e.event, id: e.id ?? '', data: e.data });
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && (err.status === 403 || err.status === 404)) return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** One question for `/v1/internal/acl/authorize`. */
export interface Permission {
  readonly Resource: string;
  readonly Segment?: string;
  readonly Access: 'read' | 'write' | 'list';
}

/** The name a Permission is looked up by in `usePermissions`' answer. */
export const permissionName = (p: Permission): string => `${p.Resource}:${p.Access}:${p.Segment ?? ''}`;

/**
 * What the tab's token may do, asked once per set of permissions and again when the token
 * changes: a map from permissionName to allowed. While unknown, every permission reads as
 * allowed=false; with ACLs off (the server answers 401 "ACL support disabled") every one is true.
 * On an edge agent only KV writes (which it queues for the servers) and reads are allowed.
 */
export function usePermissions(perms: readonly Permission[]): Record<string, boolean> {
  const edge = edgeMode;
  const key = JSON.stringify(perms);
  const [allowed, setAllowed] = useState<Record<string, boolean>>({});
  const [token, setTok] = useState(currentToken);
  useEffect(() => {
    const on = () => setTok(currentToken());
    addEventListener('konsul-token', on);
    return () => removeEventListener('konsul-token', on);
  }, []);
  useEffect(() => {
    let current = true;
    const list = JSON.parse(key) as Permission[];
    if (edge) {
      // Read-mostly: an agent queues KV writes for its servers and does nothing else itself.
      setAllowed(
        Object.fromEntries(list.map((p) => [permissionName(p), p.Resource === 'key' || p.Access !== 'write'])),
      );
      return;
    }
    void (async () => {
      try {
        const res = await api('/v1/internal/acl/authorize', { method: 'POST', body: key }, [401]);
        const answer: Record<string, boolean> = {};
        if (res.status === 401) for (const p of list) answer[permissionName(p)] = true;
        else
          for (const r of (await res.json()) as Array<Permission & { Allow: boolean }>)
            answer[permissionName(r)] = r.Allow;
        if (current) setAllowed(answer);
      } catch {
        if (current) setAllowed({});
      }
    })();
    return () => {
      current = false;
    };
  }, [key, token, edge]);
  return allowed;
}

let edgeMode = false;

/**
 * Whether the UI talks to an edge agent (which answers /v1/edge/status) rather than a server;
 * undefined until known. Once known, usePermissions answers in the agent's read-mostly terms.
 */
export function useEdgeMode(): boolean | undefined {
  const [edge, setEdge] = useState<boolean | undefined>(undefined);
  useEffect(() => {
    const done = (b: boolean) => {
      edgeMode = b;
      setEdge(b);
    };
    fetch('/v1/edge/status').then(
      (r) => done(r.ok),
      () => done(false),
    );
  }, []);
  return edge;
}
