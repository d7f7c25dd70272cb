/** The ACL token the UI sends, kept in the browser's session storage only. */
export const TOKEN_KEY = 'konsul-token';

/** Calls the HTTP API with the session's token; rejects with the server's words on a non-2xx answer. */
export async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = new Headers(init.headers);
  if (token) headers.set('X-Consul-Token', token);
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) throw new Error(`${res.status}: ${(await res.text()).trim()}`);
  return res;
}

/**
 * Follows `path` with blocking queries: `onData` gets the first answer and then every answer
 * whose X-Consul-Index moved, until `signal` aborts. Errors wait 1 s and retry.
 */
export async function follow<T>(path: string, onData: (data: T) => void, signal: AbortSignal): Promise<void> {
  let index = 0;
  while (!signal.aborted) {
    try {
      const sep = path.includes('?') ? '&' : '?';
      const res = await api(index > 0 ? `${path}${sep}index=${index}&wait=30s` : path, { signal });
      const next = Number(res.headers.get('X-Consul-Index') ?? 0);
      const data = (await res.json()) as T;
      if (next !== index || index === 0) onData(data);
      index = next < index ? 0 : next;
    } catch {
      if (signal.aborted) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
