import { CorruptError } from '../errors.js';
import { bumpTableIndex, readTableIndex } from '../fsm/meta.js';
import type { CommandHandler, StateModule } from '../fsm/state-machine.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { Indexed } from '../util/indexed.js';

/** User events, keyed by their LTime as 16 zero-padded digits (so key order is firing order). */
export const EVENTS_TABLE = 'events';
/**
 * Pseudo-table of change notifications for event blocking queries and watch streams (one key,
 * EVENTS_INDEX; the entry is the event fired).
 */
export const EVENT_WATCH_TABLE = 'event';
/** Logical table name whose modification index answers /v1/event/list. */
export const EVENTS_INDEX = 'events';
/** How many events are kept (Consul's agents keep the last 256). */
export const MAX_EVENTS = 256;
/** Largest payload accepted, in bytes. */
export const MAX_EVENT_PAYLOAD_BYTES = 512;

/** A user event, in Consul's JSON shape (Payload base64-encoded when shown). */
export interface UserEvent {
  readonly ID: string;
  readonly Name: string;
  readonly Payload: Uint8Array | null;
  readonly NodeFilter: string;
  readonly ServiceFilter: string;
  readonly TagFilter: string;
  readonly Version: number;
  readonly LTime: number;
}

/** Records a fired event (ID chosen by the proposer). Result: the stored event. */
export interface EventFireCommand {
  readonly type: 'event.fire';
  readonly event: Omit<UserEvent, 'LTime' | 'Version'>;
}

/** Meta name under which the newest LTime is kept (it survives the ring dropping events). */
const LTIME_NAME = 'event-ltime';

const keyOf = (ltime: number): string => String(ltime).padStart(16, '0');

function lastLTime(tx: ReadTxn): number {
  let last = 0;
  for (const [k] of tx.range(EVENTS_TABLE)) last = Number(k);
  return last;
}

const fire: CommandHandler = {
  apply(ctx, cmd) {
    const e = cmd['event'] as EventFireCommand['event'] | undefined;
    if (!e || typeof e !== 'object' || typeof e.ID !== 'string' || typeof e.Name !== 'string')
      throw new CorruptError('event.fire: malformed event');
    // Lamport time: one more than the newest kept event (the table never empties once used).
    const ltime = Math.max(lastLTime(ctx.tx), readTableIndex(ctx.tx, LTIME_NAME)) + 1;
    const event: UserEvent = { ...e, Version: 1, LTime: ltime };
    ctx.tx.put(EVENTS_TABLE, keyOf(ltime), event);
    bumpTableIndex(ctx.tx, LTIME_NAME, ltime);
    const keys: string[] = [];
    for (const [k] of ctx.tx.range(EVENTS_TABLE)) keys.push(k);
    for (const k of keys.slice(0, Math.max(0, keys.length - MAX_EVENTS))) ctx.tx.delete(EVENTS_TABLE, k);
    bumpTableIndex(ctx.tx, EVENTS_INDEX, ctx.index);
    ctx.changed({ table: EVENT_WATCH_TABLE, key: EVENTS_INDEX, entry: event });
    return event;
  },
};

/** The events module: the replicated ring of the last MAX_EVENTS user events. */
export const eventModule: StateModule = {
  tables: [EVENTS_TABLE],
  handlers: { 'event.fire': fire },
};

/** Kept events, oldest first, optionally only those named `name`. Index: the events table. */
export function listEvents(tx: ReadTxn, name?: string): Indexed<UserEvent[]> {
  const value: UserEvent[] = [];
  for (const [, e] of tx.range<UserEvent>(EVENTS_TABLE)) if (name === undefined || e.Name === name) value.push(e);
  return { index: readTableIndex(tx, EVENTS_INDEX), value };
}
