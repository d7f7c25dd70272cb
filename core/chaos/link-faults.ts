import type { Rng } from '../ports/rng.js';

/** What one rule does to the links it names. */
export type LinkEffect =
  | { readonly kind: 'latency'; readonly delayMs: number; readonly jitterMs: number }
  | { readonly kind: 'loss'; readonly percent: number }
  | { readonly kind: 'partition' };

/** A rule: an effect on this server's links to `peers` (node names). */
export interface LinkRule {
  readonly peers: ReadonlySet<string>;
  readonly effect: LinkEffect;
}

/** LinkFaults.outbound's answer for a message that is not sent at all. */
export const DROP = -1;

/**
 * The faults chaos experiments put on this server's Raft links: a set of rules, one per
 * experiment, that compose — every partition and loss rule naming a peer may drop a message to
 * it, and the delays of every latency rule naming it add up. A transport asks it about each
 * message; it holds no messages itself (see DelayLine). Independent of any other fault layer
 * (the test-only block list), so neither clears the other. Randomness (loss, jitter) comes from
 * the Rng port: a seeded Rng makes the decisions replay exactly. Holds at most one rule per id.
 */
export class LinkFaults {
  private readonly rules = new Map<string, LinkRule>();
  /** Messages dropped (by partition or loss) and delayed, since start. */
  dropped = 0;
  delayed = 0;

  constructor(private readonly rng: Rng) {}

  /** Adds (or replaces) the rule of experiment `id`. */
  add(id: string, rule: LinkRule): void {
    this.rules.set(id, rule);
  }

  /** Removes the rule of `id`; false when there was none. */
  remove(id: string): boolean {
    return this.rules.delete(id);
  }

  /** Removes every rule. */
  clear(): void {
    this.rules.clear();
  }

  /** Rules in force (0: every message passes untouched, and callers may skip asking). */
  get size(): number {
    return this.rules.size;
  }

  /**
   * The fate of one message this server sends to `peer`: DROP, or the milliseconds to hold it
   * (0: send at once). A partition drops it; each loss rule drops it with its chance, drawn
   * independently; otherwise each latency rule adds its delay ± a uniform jitter (never below 0).
   */
  outbound(peer: string): number {
    let delayMs = 0;
    for (const { peers, effect } of this.rules.values()) {
      if (!peers.has(peer)) continue;
      switch (effect.kind) {
        case 'partition':
          this.dropped++;
          return DROP;
        case 'loss':
          if (this.rng.next() * 100 < effect.percent) {
            this.dropped++;
            return DROP;
          }
          break;
        case 'latency': {
          const jitter = effect.jitterMs === 0 ? 0 : (this.rng.next() * 2 - 1) * effect.jitterMs;
          delayMs += Math.max(0, Math.round(effect.delayMs + jitter));
          break;
        }
      }
    }
    if (delayMs > 0) this.delayed++;
    return delayMs;
  }

  /** Whether the link to `peer` is cut both ways (a partition names it): what arrives from it is dropped too. */
  cut(peer: string): boolean {
    for (const { peers, effect } of this.rules.values())
      if (effect.kind === 'partition' && peers.has(peer)) return true;
    return false;
  }
}
