/**
 * A value kept with one request for as long as the request object lives: get answers undefined
 * until set. Stored as a symbol-keyed property of the Request rather than in a WeakMap keyed by
 * requests: measured on Node 20, such a WeakMap made about 2 KB of every request survive V8's
 * young-generation collections (promoted, then freed only by a full collection), which made each
 * scavenge several milliseconds long under load (docs/PERFORMANCE.md).
 */
export interface RequestSlot<T> {
  get(req: Request): T | undefined;
  set(req: Request, value: T): void;
  /** Forgets the value (get answers undefined again). */
  clear(req: Request): void;
}

/** A new slot; `name` only labels its symbol (shown when a request is inspected). */
export function requestSlot<T>(name: string): RequestSlot<T> {
  const key = Symbol(name);
  return {
    get: (req) => (req as unknown as Record<symbol, T | undefined>)[key],
    set: (req, value) => {
      (req as unknown as Record<symbol, T>)[key] = value;
    },
    clear: (req) => {
      (req as unknown as Record<symbol, T | undefined>)[key] = undefined;
    },
  };
}
