import type { Clock, TimerHandle } from '../ports/clock.js';
import { builtins, execute } from './exec.js';
import {
  consulTemplateFuncs,
  type Dependency,
  type Lookup,
  type RenderReads,
  type TemplateEnv,
  type TemplateSource,
} from './functions.js';
import { parse, type TemplateSet } from './parse.js';

/**
 * Where the runner gets the answers to dependencies: `watch` starts following one (a blocking
 * query or a watch stream over the Consul API) and calls `onValue` with each new answer (null for
 * 404) until the returned function is called. One watch per dependency id, however many templates
 * read it.
 */
export interface DependencyWatcher {
  watch(dep: Dependency, onValue: (value: unknown) => void): () => void;
}

/** One template the runner renders. */
export interface RunnerTemplate {
  /** Its name in errors (the source file's path). */
  readonly name: string;
  readonly source: string;
  /** Delimiters (default `{{` and `}}`). */
  readonly left?: string;
  readonly right?: string;
}

/** Quiescence: a render waits until no dependency changed for `min` ms, but never more than `max` ms. */
export interface Wait {
  readonly min: number;
  readonly max: number;
}

/** What the runner tells its owner. */
export interface RunnerEvents {
  /**
   * A template rendered with every dependency known; `content` is its output. Called once per
   * render that changed the output (an equal output is not reported again).
   */
  rendered(index: number, content: string): void;
  /** A template failed to render (bad data for its functions, a missing template): it keeps its last output. */
  failed(index: number, err: Error): void;
}

/**
 * Renders templates push-driven: each render records what it read, the runner watches each of
 * those dependencies once (shared between templates) and drops the ones no longer read; a change
 * re-renders the templates that read it after the quiescence wait. A template is reported only
 * once all it reads is known, and only when its output changed. Parsing happens at construction
 * (a TemplateError names the template, line and column).
 */
export class TemplateRunner {
  private readonly sets: TemplateSet[];
  private readonly values = new Map<string, unknown>();
  private readonly watches = new Map<string, { stop: () => void; readers: Set<number> }>();
  private readonly last = new Map<number, string>();
  private readonly dirty = new Set<number>();
  private minTimer: TimerHandle | undefined;
  private maxTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly templates: readonly RunnerTemplate[],
    private readonly o: {
      readonly watcher: DependencyWatcher;
      readonly clock: Clock;
      readonly env: TemplateEnv;
      readonly wait?: Wait;
      readonly events: RunnerEvents;
    },
  ) {
    // Every function a template may call, so that a misspelt one fails at parse time, as in Go.
    const names = new Set([
      ...Object.keys(builtins()),
      ...Object.keys(
        consulTemplateFuncs({ lookup: () => ({ ready: false }) }, o.env, { deps: new Map(), missing: new Set() }),
      ),
    ]);
    this.sets = templates.map((t) => parse(t.name, t.source, t.left, t.right, names));
  }

  /** Renders every template once (watching what they read); later renders follow changes. */
  start(): void {
    for (let i = 0; i < this.templates.length; i++) this.render(i);
  }

  /** Stops every watch and timer. */
  stop(): void {
    this.stopped = true;
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
    if (this.minTimer !== undefined) this.o.clock.clearTimer(this.minTimer);
    if (this.maxTimer !== undefined) this.o.clock.clearTimer(this.maxTimer);
  }

  /** The dependencies watched now (their ids), for status and tests. */
  watched(): string[] {
    return [...this.watches.keys()].sort();
  }

  private render(i: number): void {
    if (this.stopped) return;
    const t = this.templates[i] as RunnerTemplate;
    const reads: RenderReads = { deps: new Map(), missing: new Set() };
    const source: TemplateSource = {
      lookup: (d): Lookup => (this.values.has(d.id) ? { ready: true, value: this.values.get(d.id) } : { ready: false }),
    };
    let out: string | undefined;
    let error: Error | undefined;
    try {
      out = execute(this.sets[i] as TemplateSet, t.name, undefined, consulTemplateFuncs(source, this.o.env, reads));
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
    }
    this.follow(i, reads.deps);
    // Not everything is known yet: the watches started above will render it again.
    if (reads.missing.size > 0) return;
    if (error) {
      this.o.events.failed(i, error);
      return;
    }
    if (out !== undefined && this.last.get(i) !== out) {
      this.last.set(i, out);
      this.o.events.rendered(i, out);
    }
  }

  /** Watches what template `i` read now, and stops watching what nothing reads any more. */
  private follow(i: number, deps: ReadonlyMap<string, Dependency>): void {
    for (const [id, dep] of deps) {
      let w = this.watches.get(id);
      if (!w) {
        // The reader goes in first: a watcher may answer at once, from inside watch().
        const entry: { stop: () => void; readers: Set<number> } = { stop: () => undefined, readers: new Set([i]) };
        this.watches.set(id, entry);
        entry.stop = this.o.watcher.watch(dep, (value) => this.changed(id, value));
        w = entry;
      }
      w.readers.add(i);
    }
    for (const [id, w] of this.watches) {
      if (deps.has(id) || !w.readers.delete(i) || w.readers.size > 0) continue;
      w.stop();
      this.watches.delete(id);
      this.values.delete(id);
    }
  }

  private changed(id: string, value: unknown): void {
    if (this.stopped) return;
    const w = this.watches.get(id);
    if (!w) return;
    const first = !this.values.has(id);
    this.values.set(id, value);
    for (const i of w.readers) this.dirty.add(i);
    // The first answer of a dependency renders at once (nothing to wait for: it was unknown).
    const wait = this.o.wait;
    if (first || !wait || wait.max <= 0) {
      this.flush();
      return;
    }
    if (this.minTimer !== undefined) this.o.clock.clearTimer(this.minTimer);
    this.minTimer = this.o.clock.setTimer(() => this.flush(), wait.min);
    this.maxTimer ??= this.o.clock.setTimer(() => this.flush(), wait.max);
  }

  private flush(): void {
    if (this.minTimer !== undefined) this.o.clock.clearTimer(this.minTimer);
    if (this.maxTimer !== undefined) this.o.clock.clearTimer(this.maxTimer);
    this.minTimer = undefined;
    this.maxTimer = undefined;
    const todo = [...this.dirty].sort((a, b) => a - b);
    this.dirty.clear();
    for (const i of todo) this.render(i);
  }
}
