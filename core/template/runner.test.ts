import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../testing/manual-clock.js';
import type { Dependency } from './functions.js';
import { type DependencyWatcher, TemplateRunner } from './runner.js';

const kv = (Key: string, v: string) => [
  { Key, Value: btoa(v), CreateIndex: 1, ModifyIndex: 1, LockIndex: 0, Flags: 0 },
];

/** A watcher the test drives: `push(id, value)` delivers an answer to the watch of `id`. */
class FakeWatcher implements DependencyWatcher {
  readonly live = new Map<string, (v: unknown) => void>();
  started = 0;
  watch(dep: Dependency, onValue: (v: unknown) => void): () => void {
    this.started++;
    this.live.set(dep.id, onValue);
    return () => this.live.delete(dep.id);
  }
  push(id: string, value: unknown): void {
    const f = this.live.get(id);
    if (!f) throw new Error(`${id} is not watched`);
    f(value);
  }
}

const env = { env: () => undefined, now: () => 0 };

describe('TemplateRunner', () => {
  it('renders once everything read is known, then after each change once quiet, only when the output changed', () => {
    const w = new FakeWatcher();
    const clock = new ManualClock();
    const out: string[] = [];
    const r = new TemplateRunner(
      [{ name: 'a.tpl', source: '{{ key "app/x" }}:{{ range service "web" }}{{ .Port }}{{ end }}' }],
      {
        watcher: w,
        clock,
        env,
        wait: { min: 100, max: 1000 },
        events: { rendered: (_, c) => out.push(c), failed: (_, e) => out.push(`ERR ${e.message}`) },
      },
    );
    r.start();
    expect(r.watched()).toEqual(['/v1/health/service/web', '/v1/kv/app/x']);
    w.push('/v1/kv/app/x', kv('app/x', '1'));
    expect(out).toEqual([]);
    w.push('/v1/health/service/web', []);
    expect(out).toEqual(['1:']);
    // A change waits for 100 ms of quiet.
    w.push('/v1/kv/app/x', kv('app/x', '2'));
    clock.advance(99);
    expect(out).toEqual(['1:']);
    clock.advance(1);
    expect(out).toEqual(['1:', '2:']);
    // The same output again is not reported.
    w.push('/v1/kv/app/x', kv('app/x', '2'));
    clock.advance(100);
    expect(out).toEqual(['1:', '2:']);
    // Changes every 50 ms never leave 100 ms of quiet: the render comes at the 1000 ms bound.
    for (let i = 0; i < 30; i++) {
      w.push('/v1/kv/app/x', kv('app/x', `v${i}`));
      clock.advance(50);
    }
    expect(out).toEqual(['1:', '2:', 'v19:']);
    // Then quiet: the last value after 100 ms.
    clock.advance(50);
    expect(out).toEqual(['1:', '2:', 'v19:', 'v29:']);
    r.stop();
    expect(w.live.size).toBe(0);
  });

  it('watches a dependency once for every template reading it, and drops one nothing reads any more', () => {
    const w = new FakeWatcher();
    const clock = new ManualClock();
    const out: Array<[number, string]> = [];
    const r = new TemplateRunner(
      [
        { name: 'one', source: '{{ if eq (key "flag") "on" }}{{ key "detail" }}{{ else }}off{{ end }}' },
        { name: 'two', source: '[{{ key "flag" }}]' },
      ],
      { watcher: w, clock, env, events: { rendered: (i, c) => out.push([i, c]), failed: () => undefined } },
    );
    r.start();
    w.push('/v1/kv/flag', kv('flag', 'on'));
    expect(w.started).toBe(2);
    w.push('/v1/kv/detail', kv('detail', 'D'));
    expect(out).toEqual([
      [1, '[on]'],
      [0, 'D'],
    ]);
    w.push('/v1/kv/flag', kv('flag', 'no'));
    expect(out.slice(2)).toEqual([
      [0, 'off'],
      [1, '[no]'],
    ]);
    expect(r.watched()).toEqual(['/v1/kv/flag']);
  });

  it('reports a render that fails, naming the template and where', () => {
    const w = new FakeWatcher();
    const failures: string[] = [];
    const r = new TemplateRunner([{ name: 'bad.tpl', source: 'x\n{{ key "k" | parseJSON }}' }], {
      watcher: w,
      clock: new ManualClock(),
      env,
      events: { rendered: () => undefined, failed: (_, e) => failures.push(e.message) },
    });
    r.start();
    w.push('/v1/kv/k', kv('k', 'not json'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(
      /^template: bad.tpl:2:\d+: executing "bad.tpl" at <key "k" \| parseJSON>: error calling parseJSON/,
    );
    expect(
      () =>
        new TemplateRunner([{ name: 'syntax.tpl', source: '{{ if }}' }], {
          watcher: w,
          clock: new ManualClock(),
          env,
          events: { rendered: () => undefined, failed: () => undefined },
        }),
    ).toThrow(/^template: syntax.tpl:1:4: missing value for if/);
  });

  it('refuses a template calling an unknown function, even in a branch that never runs, naming line and column', () => {
    const make = () =>
      new TemplateRunner([{ name: 'bad.tpl', source: 'ok\n{{ if false }}{{ secret "x" }}{{ end }}' }], {
        watcher: new FakeWatcher(),
        clock: new ManualClock(),
        env,
        events: { rendered: () => undefined, failed: () => undefined },
      });
    expect(make).toThrow('template: bad.tpl:2:18: function "secret" not defined');
  });
});
