import { describe, expect, it } from 'vitest';
import { execute } from './exec.js';
import { consulTemplateFuncs, type Dependency, type RenderReads, type TemplateSource } from './functions.js';
import { parse } from './parse.js';

const b64 = (s: string) => btoa(s);
const kv = (Key: string, v: string | null, i = 5) => ({
  Key,
  Value: v === null ? null : b64(v),
  CreateIndex: i,
  ModifyIndex: i,
  LockIndex: 0,
  Flags: 0,
});
const entry = (node: string, addr: string, id: string, port: number, tags: string[], status = 'passing') => ({
  Node: { ID: `id-${node}`, Node: node, Address: addr, Datacenter: 'dc1' },
  Service: { ID: id, Service: 'web', Tags: tags, Address: '', Port: port },
  Checks: [
    { CheckID: 'serfHealth', Status: 'passing' },
    { CheckID: `service:${id}`, Status: status },
  ],
});

/** Consul's answers by API path, as the renderer's cache would hold them. */
const ANSWERS: Record<string, unknown> = {
  '/v1/kv/app/name': [kv('app/name', 'shop')],
  '/v1/kv/app/config?recurse': [
    kv('app/config/', null),
    kv('app/config/db/host', 'db.local'),
    kv('app/config/db/port', '5432'),
    kv('app/config/mode', 'prod'),
  ],
  '/v1/kv/app/json': [kv('app/json', '{"b":[1,2],"a":{"x":true}}')],
  '/v1/health/service/web': [
    entry('n2', '10.0.0.2', 'web-2', 8080, ['v2', 'prod']),
    entry('n1', '10.0.0.1', 'web-1', 8080, ['v1', 'prod']),
    entry('n3', '10.0.0.3', 'web-3', 8081, ['v1'], 'critical'),
  ],
  '/v1/health/service/web?tag=v1': [
    entry('n1', '10.0.0.1', 'web-1', 8080, ['v1', 'prod']),
    entry('n3', '10.0.0.3', 'web-3', 8081, ['v1'], 'critical'),
  ],
  '/v1/catalog/services': { web: ['v1', 'v2', 'prod'], consul: [] },
};

function render(src: string): { out: string; reads: RenderReads } {
  const reads: RenderReads = { deps: new Map<string, Dependency>(), missing: new Set() };
  const source: TemplateSource = {
    lookup: (d) => (d.id in ANSWERS ? { ready: true, value: ANSWERS[d.id] } : { ready: true, value: null }),
  };
  const funcs = consulTemplateFuncs(
    source,
    {
      env: (n) => (n === 'HOME' ? '/root' : undefined),
      now: () => Date.UTC(2026, 11, 7, 15, 4, 5),
    },
    reads,
  );
  return { out: execute(parse('in.tpl', src), 'in.tpl', undefined, funcs), reads };
}

describe('consul-template functions (golden renders of its documented examples)', () => {
  it('renders an nginx upstream from the healthy instances of a service', () => {
    const src = 'upstream web {\n{{- range service "web" }}\n  server {{ .Address }}:{{ .Port }};\n{{- end }}\n}\n';
    expect(render(src).out).toBe('upstream web {\n  server 10.0.0.1:8080;\n  server 10.0.0.2:8080;\n}\n');
  });

  it('renders an HAProxy backend, with a tag filter, any status and .Tags.Contains', () => {
    const src =
      'backend web\n{{ range service "v1.web" "any" }}  server {{ .Node }} {{ .Address }}:{{ .Port }}' +
      '{{ if .Tags.Contains "prod" }} weight 10{{ end }}{{ if eq .Status "critical" }} disabled{{ end }}\n{{ end }}';
    expect(render(src).out).toBe(
      'backend web\n  server n1 10.0.0.1:8080 weight 10\n  server n3 10.0.0.3:8081 disabled\n',
    );
  });

  it('renders a tree of app settings, and key, keyOrDefault, keyExists, ls', () => {
    const src =
      '{{ key "app/name" }} {{ keyOrDefault "app/none" "dflt" }} {{ keyExists "app/none" }}\n' +
      '{{ range tree "app/config" }}{{ .Key }}={{ .Value }}\n{{ end }}' +
      '{{ range ls "app/config" }}top:{{ .Key }}{{ end }}';
    expect(render(src).out).toBe('shop dflt false\ndb/host=db.local\ndb/port=5432\nmode=prod\ntop:mode');
  });

  it('converts with toJSON, parseJSON, toYAML, explode and byKey', () => {
    const { out } = render(
      '{{ with $d := key "app/json" | parseJSON }}{{ $d.a.x }} {{ index $d.b 1 }} {{ toJSON $d }}{{ end }}\n' +
        '{{ tree "app/config" | explode | toJSON }}\n' +
        '{{ range $k, $v := tree "app/config" | byKey }}{{ $k }}:{{ len $v }}{{ end }}\n' +
        '{{ tree "app/config" | explode | toYAML }}',
    );
    expect(out).toBe(
      'true 2 {"a":{"x":true},"b":[1,2]}\n{"db":{"host":"db.local","port":"5432"},"mode":"prod"}\ndb:2\n' +
        'db:\n  host: db.local\n  port: "5432"\nmode: prod',
    );
  });

  it('groups by tag, and has the string, list and arithmetic helpers', () => {
    const { out } = render(
      '{{ range $t, $s := service "web" | byTag }}{{ $t }}={{ len $s }} {{ end }}\n' +
        '{{ "a,b" | split "," | join ";" }} {{ "Hello" | toUpper }} {{ replaceAll "l" "L" "hello" }} ' +
        '{{ regexReplaceAll "(\\\\d+)" "<$1>" "a1b22" }} {{ regexMatch "^h" "hi" }} ' +
        '{{ "prod" | in (split "," "a,prod") }}\n' +
        '{{ add 1 2 }} {{ 7 | subtract 2 }} {{ multiply 3 4 }} {{ 10 | divide 4 }} {{ env "HOME" }} ' +
        '{{ timestamp "2006-01-02T15:04:05" }}',
    );
    expect(out).toBe('prod=2 v1=1 v2=1 \na;b HELLO heLLo a<1>b<22> true true\n3 5 12 2 /root 2026-12-07T15:04:05');
  });

  it('records each dependency once, and holds the render while a key is missing', () => {
    const { reads } = render(
      '{{ range service "web" }}{{ end }}{{ range service "web" }}{{ end }}{{ key "app/absent" }}',
    );
    expect([...reads.deps.keys()]).toEqual(['/v1/health/service/web', '/v1/kv/app/absent']);
    expect([...reads.missing]).toEqual(['/v1/kv/app/absent']);
  });

  it('reads consul-template query strings: <path>?<query>@<datacenter>', () => {
    const { reads } = render(
      '{{ keyOrDefault "app/x@dc2" "d" }}{{ range tree "/app/config?ns=team@dc2" }}{{ end }}' +
        '{{ range services "@dc2" }}{{ end }}{{ range nodes }}{{ end }}{{ range service "v1.web@dc2" }}{{ end }}' +
        '{{ range service "a.b.web?ns=x@dc3~_agent|any" }}{{ end }}',
    );
    expect([...reads.deps.keys()]).toEqual([
      '/v1/kv/app/x?dc=dc2',
      '/v1/kv/app/config?recurse&ns=team&dc=dc2',
      '/v1/catalog/services?dc=dc2',
      '/v1/catalog/nodes',
      '/v1/health/service/web?tag=v1&dc=dc2',
      '/v1/health/service/web?tag=a.b&ns=x&dc=dc3&near=_agent',
    ]);
  });

  it('refuses a health filter consul-template does not know, naming it', () => {
    expect(() => render('{{ service "web|healthy" }}')).toThrow(
      'health.service: invalid filter: "healthy" in "web|healthy"',
    );
  });
});
