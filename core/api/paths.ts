import { BadRequestError, MethodNotAllowedError } from '../errors.js';
import { methodsAt } from './route-table.js';

/**
 * A path cleaned as Go's net/http ServeMux cleans it before routing (Consul's HTTP server is one):
 * runs of "/" become one, "." segments go, ".." removes the segment before it (never above the
 * root), and a trailing "/" stays. Works on the path as sent (percent-encoded); "" becomes "/".
 */
export function cleanPath(path: string): string {
  if (path === '') return '/';
  const rooted = path.startsWith('/') ? path : `/${path}`;
  const out: string[] = [];
  for (const seg of rooted.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const cleaned = `/${out.join('/')}`;
  return rooted.endsWith('/') && cleaned !== '/' ? `${cleaned}/` : cleaned;
}

/** The path of an absolute request URL as sent, and what follows it (query and fragment). */
function splitUrl(url: string): { path: string; rest: string } {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start < 0) return { path: '/', rest: '' };
  let end = url.indexOf('?', start);
  const hash = url.indexOf('#', start);
  if (end < 0 || (hash >= 0 && hash < end)) end = hash;
  if (end < 0) end = url.length;
  return { path: url.slice(start, end), rest: url.slice(end) };
}

/**
 * A 301 to the cleaned path (query kept) when the request's path is not clean, as Consul answers
 * (`GET /v1/kv//app/x` → `/v1/kv/app/x`), so clients that follow redirects reach the resource;
 * undefined when the path is already clean.
 */
export function redirectUncleanPath(req: Request): Response | undefined {
  const { path, rest } = splitUrl(req.url);
  if (!path.includes('//') && !path.includes('/.')) return undefined;
  const cleaned = cleanPath(path);
  if (cleaned === path) return undefined;
  const query = rest.startsWith('?') ? rest.split('#')[0] : '';
  const location = `${cleaned}${query}`;
  return new Response(req.method === 'GET' ? `<a href="${location}">Moved Permanently</a>.\n` : null, {
    status: 301,
    headers: { Location: location, 'Content-Type': 'text/html; charset=utf-8' },
  });
}

/**
 * Throws MethodNotAllowedError (405 with Allow) when the most specific route for the request's
 * path is served under other methods only (`GET /v1/agent/service/deregister/x` is the PUT-only
 * deregister route, as in Consul, not the service "deregister/x"); otherwise returns.
 */
export function rejectWrongMethod(req: Request): void {
  const { path } = splitUrl(req.url);
  const methods = methodsAt(path);
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  if (methods.length > 0 && !methods.includes(method as never)) throw new MethodNotAllowedError(req.method, methods);
}

/** The answer for a request no route took: 405 (thrown, see rejectWrongMethod) or Consul's 404. */
export function answerUnrouted(req: Request): Response {
  rejectWrongMethod(req);
  return new Response('Invalid URL path: not a recognized HTTP API endpoint\n', {
    status: 404,
    headers: { 'Content-Type': 'text/plain; charset=utf-8' },
  });
}

/**
 * The percent-decoded rest of the request's path after `prefix` (which the route matched), for
 * routes whose last parameter may hold "/" (service and check IDs). Throws BadRequestError naming
 * `label` when it does not decode.
 */
export function restOfPath(req: Request, prefix: string, label: string): string {
  const { path } = splitUrl(req.url);
  const raw = path.startsWith(prefix) ? path.slice(prefix.length) : '';
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequestError(`Invalid ${label} ${JSON.stringify(raw)}: bad percent-encoding`);
  }
}
