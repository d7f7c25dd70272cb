import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TemplateError } from './errors.js';
import { execute } from './exec.js';
import { consulTemplateFuncs, type Dependency, type RenderReads, type TemplateSource } from './functions.js';
import { parse } from './parse.js';

/**
 * Golden renders: each testdata/NAME.ctmpl against testdata/fixture.json must print exactly
 * testdata/NAME.golden. The goldens were written by Go's own text/template
 * (testing/template-reference, `npm run golden:template`), so these compare with the reference.
 * nginx.ctmpl and haproxy.ctmpl are consul-template's documented examples, unchanged apart from
 * the backends added at the end of haproxy.ctmpl.
 */
const DIR = join(fileURLToPath(new URL('.', import.meta.url)), 'testdata');

interface Fixture {
  now: number;
  env: Record<string, string>;
  kv: Record<string, string>;
  health: Record<
    string,
    Array<{
      node: string;
      address: string;
      serviceAddress?: string;
      id: string;
      port: number;
      tags: string[];
      checks: Array<{ id: string; status: string }>;
    }>
  >;
}

const fixture = JSON.parse(readFileSync(join(DIR, 'fixture.json'), 'utf8')) as Fixture;

const kvEntry = (Key: string) => ({
  Key,
  Value: fixture.kv[Key] === '' ? null : Buffer.from(fixture.kv[Key] as string).toString('base64'),
  CreateIndex: 5,
  ModifyIndex: 5,
  LockIndex: 0,
  Flags: 0,
});

/** What a Consul (or Konsul) server answers for an API path, from the fixture; null for a 404. */
function answer(id: string): unknown {
  const url = new URL(id, 'http://x');
  const path = decodeURIComponent(url.pathname);
  if (path.startsWith('/v1/kv/')) {
    const key = path.slice('/v1/kv/'.length);
    if (url.searchParams.has('recurse')) {
      const keys = Object.keys(fixture.kv)
        .filter((k) => k.startsWith(key))
        .sort();
      return keys.length ? keys.map(kvEntry) : null;
    }
    return key in fixture.kv ? [kvEntry(key)] : null;
  }
  if (path.startsWith('/v1/health/service/')) {
    const tag = url.searchParams.get('tag');
    return (fixture.health[path.slice('/v1/health/service/'.length)] ?? [])
      .filter((h) => !tag || h.tags.includes(tag))
      .map((h) => ({
        Node: { ID: `id-${h.node}`, Node: h.node, Address: h.address, Datacenter: 'dc1' },
        Service: { ID: h.id, Service: path.slice(19), Tags: h.tags, Address: h.serviceAddress ?? '', Port: h.port },
        Checks: h.checks.map((c) => ({ CheckID: c.id, Status: c.status })),
      }));
  }
  if (path === '/v1/catalog/services') {
    // Consul lists each service's tags once, in no promised order.
    return Object.fromEntries(
      Object.entries(fixture.health).map(([n, hs]) => [n, [...new Set(hs.flatMap((h) => h.tags))].reverse()]),
    );
  }
  throw new Error(`the fixture does not answer ${id}`);
}

function render(name: string, src: string): string {
  const reads: RenderReads = { deps: new Map<string, Dependency>(), missing: new Set() };
  const source: TemplateSource = { lookup: (d) => ({ ready: true, value: answer(d.id) }) };
  const funcs = consulTemplateFuncs(source, { env: (n) => fixture.env[n], now: () => fixture.now }, reads);
  try {
    const out = execute(parse(name, src), name, undefined, funcs);
    expect([...reads.missing]).toEqual([]);
    return out;
  } catch (err) {
    if (err instanceof TemplateError) return `error: ${err.message}\n`;
    throw err;
  }
}

const templates = readdirSync(DIR)
  .filter((f) => f.endsWith('.ctmpl'))
  .sort();

describe('golden renders, as Go text/template and consul-template print them', () => {
  it('has the golden templates', () => {
    expect(templates).toEqual(
      expect.arrayContaining([
        'nginx.ctmpl',
        'haproxy.ctmpl',
        'app-settings.ctmpl',
        'json.ctmpl',
        'nested.ctmpl',
        'trim.ctmpl',
      ]),
    );
  });
  for (const file of templates) {
    it(`renders ${file} exactly as the golden file`, () => {
      const src = readFileSync(join(DIR, file), 'utf8');
      const golden = readFileSync(join(DIR, file.replace(/\.ctmpl$/, '.golden')), 'utf8');
      expect(render(file, src)).toBe(golden);
    });
  }
});
