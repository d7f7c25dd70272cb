import { randomInt } from '../core/ports/rng.js';
import { seededRng } from './seeded-rng.js';

/** One generated request. */
export interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array;
}

const METHODS = ['GET', 'GET', 'GET', 'PUT', 'PUT', 'DELETE', 'POST', 'PATCH', 'HEAD', 'OPTIONS'];
const ROUTES = [
  '/v1/kv/{s}',
  '/v1/kv/{s}/{s}',
  '/v1/kv/',
  '/v1/txn',
  '/v1/catalog/register',
  '/v1/catalog/deregister',
  '/v1/catalog/nodes',
  '/v1/catalog/services',
  '/v1/catalog/service/{s}',
  '/v1/catalog/node/{s}',
  '/v1/catalog/node-services/{s}',
  '/v1/health/service/{s}',
  '/v1/health/checks/{s}',
  '/v1/health/node/{s}',
  '/v1/health/state/{s}',
  '/v1/agent/self',
  '/v1/agent/members',
  '/v1/agent/services',
  '/v1/agent/service/register',
  '/v1/agent/service/{s}',
  '/v1/agent/service/deregister/{s}',
  '/v1/agent/check/register',
  '/v1/agent/check/pass/{s}',
  '/v1/agent/check/update/{s}',
  '/v1/agent/checks',
  '/v1/agent/health/service/name/{s}',
  '/v1/session/create',
  '/v1/session/info/{s}',
  '/v1/session/renew/{s}',
  '/v1/session/destroy/{s}',
  '/v1/session/list',
  '/v1/event/fire/{s}',
  '/v1/event/list',
  '/v1/status/leader',
  '/v1/status/peers',
  '/v1/acl/policy',
  '/v1/acl/policy/{s}',
  '/v1/acl/token',
  '/v1/acl/token/{s}',
  '/v1/acl/token/self',
  '/v1/acl/role',
  '/v1/acl/tokens',
  '/v1/acl/bootstrap',
  '/v1/acl/login',
  '/v1/acl/logout',
  '/v1/acl/auth-method',
  '/v1/acl/binding-rule',
  '/v1/operator/raft/configuration',
  '/v1/operator/autopilot/configuration',
  '/v1/prometheus/sd',
  '/v1/edge/sync',
  '/v1/snapshot',
  '/v1/{s}',
  '/{s}',
  '/v1/kv/{s}/../../{s}',
];
const PARAMS = [
  'index',
  'wait',
  'recurse',
  'keys',
  'separator',
  'cas',
  'flags',
  'acquire',
  'release',
  'token',
  'dc',
  'stale',
  'consistent',
  'filter',
  'passing',
  'tag',
  'node-meta',
  'prefix',
  'service',
  'after',
  'raw',
  'enable',
  'reason',
  'note',
  'name',
  'id',
  'format',
  'near',
];
const ODD = [
  '',
  '-1',
  '0',
  '1',
  '18446744073709551616',
  '99999999999999999999999',
  '1e9',
  'NaN',
  'true',
  'null',
  '%ZZ',
  '%00',
  '%FF%FE',
  '..',
  '../..',
  '☃',
  '\u{1F600}',
  'a'.repeat(300),
  '5m',
  '-5s',
  '1h1h',
  'Service.Tags contains',
  '(((',
  'x == "y"',
  '*',
  '[',
  '{}',
  ' ',
  '00000000-0000-0000-0000-000000000002',
  'anonymous',
];
const JSONISH = [
  '{',
  '}',
  '[]',
  '[{}]',
  'null',
  '"str"',
  '{"Name":',
  '{"Node":"n","Address":"a","Service":{"Service":7}}',
  '[{"KV":{"Verb":"set","Key":"a","Value":"!!"}}]',
  '[{"KV":{"Verb":"nope"}}]',
  '{"Rules":"key \\"a\\" {"}',
  '{"Name":"x","Rules":"key_prefix \\"\\" { policy = \\"write\\" }"}',
  '{"TTL":"-1s"}',
  '{"Check":{"HTTP":"http://["}}',
  '{"ID":"\u0000"}',
  '1e999',
  '{"Policies":[{"ID":5}]}',
  '{"__proto__":{"x":1}}',
];

/**
 * A deterministic generator of malformed and odd requests for every route family (never one that
 * makes the server reach out: no joins, no check addresses): bad paths
 * (broken escapes, traversal, Unicode, long segments), odd query values, bogus tokens in every
 * place a token goes, and broken JSON or binary bodies (at most 64 KiB). The same seed gives the
 * same requests. `tokens` lists every token string sent (to check that none reaches a log).
 */
export class FuzzGenerator {
  private readonly rng;
  readonly tokens = new Set<string>();

  constructor(readonly seed: number) {
    this.rng = seededRng(seed);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[randomInt(this.rng, xs.length)] as T;
  }

  private segment(): string {
    const r = randomInt(this.rng, 10);
    if (r < 5) return this.pick(['a', 'web', 'n1', 'app/cfg', 'x y', 'deploy', 'k']);
    if (r < 8) return encodeURIComponent(this.pick(ODD)).replace(/%25/g, this.pick(['%25', '%']));
    return Array.from({ length: 1 + randomInt(this.rng, 40) }, () => String.fromCharCode(33 + randomInt(this.rng, 94)))
      .join('')
      .replace(/[#?]/g, '');
  }

  private token(): string {
    const t = this.pick([
      () =>
        `${Array.from({ length: 8 }, () => randomInt(this.rng, 16).toString(16)).join('')}-fuzz-4000-8000-` +
        `${randomInt(this.rng, 1e12).toString(16).padStart(12, '0')}`,
      () => `fuzz-secret-${randomInt(this.rng, 1e9)}-${'z'.repeat(randomInt(this.rng, 400))}`,
      () => this.pick(ODD),
    ])();
    // Generated secrets only (the odd values also show up in other fields).
    if (t.length >= 12 && !ODD.includes(t)) this.tokens.add(t);
    return t;
  }

  /** The next request. */
  next(): FuzzRequest {
    const method = this.pick(METHODS);
    let path = this.pick(ROUTES).replace(/\{s\}/g, () => this.segment());
    const q: string[] = [];
    for (let i = randomInt(this.rng, 4); i > 0; i--) {
      const name = this.pick(PARAMS);
      const value = name === 'token' ? this.token() : this.pick(ODD);
      q.push(
        randomInt(this.rng, 5) === 0
          ? name
          : `${name}=${randomInt(this.rng, 3) === 0 ? value : encodeURIComponent(value)}`,
      );
    }
    // A blocking query waits as long as asked: keep the fuzzer's short (the first wait counts).
    if (q.some((p) => p.startsWith('index'))) q.unshift('wait=50ms');
    if (q.length > 0) path += `?${q.join('&')}`;
    const headers: Record<string, string> = {};
    // Header values must be bytes a client can send (fetch refuses others).
    const ascii = (v: string) => v.replace(/[^\x20-\x7e]/g, '?');
    const h = randomInt(this.rng, 6);
    if (h === 0) headers['X-Consul-Token'] = ascii(this.token());
    else if (h === 1)
      headers['Authorization'] = ascii(`${this.pick(['Bearer ', 'bearer ', 'Basic ', ''])}${this.token()}`);
    else if (h === 2) headers['Last-Event-ID'] = ascii(this.pick(ODD));
    if (randomInt(this.rng, 4) === 0)
      headers['Content-Type'] = this.pick(['application/json', 'text/plain', 'application/octet-stream', '']);
    let body: Uint8Array | undefined;
    if (method !== 'GET' && method !== 'HEAD') {
      const b = randomInt(this.rng, 5);
      if (b === 0) body = new TextEncoder().encode(this.pick(JSONISH));
      else if (b === 1) body = Uint8Array.from({ length: randomInt(this.rng, 2048) }, () => randomInt(this.rng, 256));
      else if (b === 2)
        body = new TextEncoder().encode(
          `{"Name":"${this.segment()}","Rules":${JSON.stringify(this.pick(ODD))},"Node":"${this.segment()}"}`,
        );
      else if (b === 3) body = new Uint8Array(randomInt(this.rng, 64 * 1024));
    }
    return { method, path, headers, ...(body ? { body } : {}) };
  }
}

/** Outcome of a fuzz run. */
export interface FuzzReport {
  readonly sent: number;
  readonly byStatus: Record<number, number>;
  /** How many requests were answered 5xx (other than 503 with Retry-After); the first 20 are kept. */
  readonly faultCount: number;
  readonly faults: Array<{ request: string; status: number; body: string }>;
  /** Requests that got no answer at all (connection reset, timeout). */
  readonly unanswered: Array<{ request: string; error: string }>;
}

/**
 * 5xx answers that are deliberate, not faults: an unknown `?dc=` is 500 "No path to datacenter",
 * as in Consul (there is no WAN path to it).
 */
export const DELIBERATE_5XX: readonly RegExp[] = [/^No path to datacenter /];

/**
 * Error codes (X-Konsul-Error-Code) of 500s Consul also answers on purpose: an unknown
 * datacenter, and what the servers refuse while applying a request (an invalid session, a session
 * TTL out of range...), which Consul's RPC layer reports with 500.
 */
export const DELIBERATE_5XX_CODES: ReadonlySet<string> = new Set(['no_path', 'refused']);

/** Sends `count` generated requests to `base` with `concurrency` in flight and reports the answers. */
export async function runFuzz(base: string, gen: FuzzGenerator, count: number, concurrency = 16): Promise<FuzzReport> {
  const byStatus: Record<number, number> = {};
  const faults: FuzzReport['faults'] = [];
  const unanswered: FuzzReport['unanswered'] = [];
  let sent = 0;
  let faultCount = 0;
  const worker = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      const r = gen.next();
      const label = `${r.method} ${r.path.slice(0, 200)}`;
      try {
        const res = await fetch(`${base}${r.path}`, {
          method: r.method,
          headers: r.headers,
          // A 301 to the clean path is an answer; following it would resend the body.
          redirect: 'manual',
          ...(r.body ? { body: r.body as Uint8Array<ArrayBuffer> } : {}),
          signal: AbortSignal.timeout(r.path.includes('/v1/edge/sync') ? 300 : 15_000),
        });
        // Streams are cut short on purpose: only their status matters.
        const body = res.headers.get('content-type')?.includes('event-stream')
          ? (await res.body?.cancel(), '')
          : await res.text();
        byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
        const deliberate =
          (res.status === 503 && res.headers.has('retry-after')) ||
          DELIBERATE_5XX_CODES.has(res.headers.get('x-konsul-error-code') ?? '') ||
          (r.method !== 'HEAD' && DELIBERATE_5XX.some((re) => re.test(body))) ||
          (r.method === 'HEAD' && r.path.includes('dc='));
        if (res.status >= 500 && !deliberate) {
          faultCount++;
          if (faults.length < 20) faults.push({ request: label, status: res.status, body: body.slice(0, 300) });
        }
      } catch (err) {
        const e = err as Error;
        if (e.name === 'TimeoutError' && r.path.includes('/v1/edge/sync')) continue;
        unanswered.push({ request: label, error: `${e.name}: ${e.message}` });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { sent, byStatus, faultCount, faults, unanswered };
}
