import { CorruptError } from '../errors.js';
import { bumpTableIndex, readTableIndex } from '../fsm/meta.js';
import type { ApplyContext, CommandHandler, StateModule } from '../fsm/state-machine.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { Indexed } from '../util/indexed.js';
import {
  FLEET_INDEX,
  FLEET_STATUS_TABLE,
  FLEET_TABLE,
  FLEET_WATCH_TABLE,
  type FleetMember,
  type FleetHeard,
  MAX_FLEET_MEMBERS,
  MAX_FLEET_REPORTS,
} from './types.js';

const nonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Records a member's new state, telling blocking reads, and the status stream when `status` says so. */
function put(ctx: ApplyContext, m: FleetMember, status: boolean): void {
  ctx.tx.put(FLEET_TABLE, m.ID, m);
  ctx.changed({ table: FLEET_WATCH_TABLE, key: m.ID, entry: m });
  if (status) ctx.changed({ table: FLEET_STATUS_TABLE, key: m.ID, entry: m });
}

/** Whether a report says anything the member record does not (other than being heard again). */
function differs(m: FleetMember, r: FleetHeard): boolean {
  return (
    m.Kind !== r.Kind ||
    m.Runtime !== r.Runtime ||
    m.RuntimeVersion !== r.RuntimeVersion ||
    m.Version !== r.Version ||
    m.Arch !== r.Arch ||
    m.Datacenter !== r.Datacenter ||
    m.Link !== r.Link ||
    m.ReplicaIndex !== r.ReplicaIndex ||
    m.ServerIndex !== r.ServerIndex ||
    m.OutboxDepth !== r.OutboxDepth ||
    m.Prefixes.join('\n') !== r.Prefixes.join('\n') ||
    m.Services.join('\n') !== r.Services.join('\n')
  );
}

function countMembers(tx: ReadTxn): number {
  let n = 0;
  for (const _ of tx.range(FLEET_TABLE)) n++;
  return n;
}

const seen: CommandHandler = {
  apply(ctx, cmd) {
    const now = cmd['now'];
    const server = cmd['server'];
    const reports = cmd['reports'];
    if (
      !nonNegative(now) ||
      typeof server !== 'string' ||
      !Array.isArray(reports) ||
      reports.length > MAX_FLEET_REPORTS
    )
      throw new CorruptError('fleet.seen: malformed command');
    for (const r of reports as FleetHeard[])
      if (typeof r !== 'object' || r === null || typeof r.ID !== 'string' || !Array.isArray(r.Prefixes))
        throw new CorruptError('fleet.seen: malformed report');
    // Counted only when a new member arrives (rare once the fleet is known).
    let size: number | undefined;
    let recorded = 0;
    for (const r of reports as FleetHeard[]) {
      const old = ctx.tx.get<FleetMember>(FLEET_TABLE, r.ID);
      if (!old) {
        // A full table keeps the members it has: a flood of made-up names cannot push them out.
        size ??= countMembers(ctx.tx);
        if (size >= MAX_FLEET_MEMBERS) continue;
        size++;
        put(
          ctx,
          {
            ...r,
            Status: 'online',
            FirstSeen: now,
            LastSeen: now,
            StatusSince: now,
            Server: server,
            CreateIndex: ctx.index,
            ModifyIndex: ctx.index,
          },
          true,
        );
      } else {
        const back = old.Status === 'offline';
        // A report older than what is recorded (from a slower server) changes nothing.
        if (now < old.LastSeen && !back) continue;
        put(
          ctx,
          {
            ...old,
            ...r,
            Status: 'online',
            LastSeen: Math.max(now, old.LastSeen),
            StatusSince: back ? now : old.StatusSince,
            Server: server,
            ModifyIndex: back || differs(old, r) ? ctx.index : old.ModifyIndex,
          },
          back,
        );
      }
      recorded++;
    }
    bumpTableIndex(ctx.tx, FLEET_INDEX, ctx.index);
    return recorded;
  },
};

const expire: CommandHandler = {
  apply(ctx, cmd) {
    const now = cmd['now'];
    const silence = cmd['silenceMs'];
    if (!nonNegative(now) || !nonNegative(silence)) throw new CorruptError('fleet.expire: malformed command');
    const gone: FleetMember[] = [];
    for (const [, m] of ctx.tx.range<FleetMember>(FLEET_TABLE))
      if (m.Status === 'online' && m.LastSeen + silence < now) gone.push(m);
    for (const m of gone) put(ctx, { ...m, Status: 'offline', StatusSince: now, ModifyIndex: ctx.index }, true);
    if (gone.length > 0) bumpTableIndex(ctx.tx, FLEET_INDEX, ctx.index);
    return gone.map((m) => m.ID);
  },
};

const forget: CommandHandler = {
  apply(ctx, cmd) {
    const id = cmd['id'];
    if (typeof id !== 'string') throw new CorruptError('fleet.forget: malformed command');
    if (!ctx.tx.get(FLEET_TABLE, id)) return false;
    ctx.tx.delete(FLEET_TABLE, id);
    ctx.changed({ table: FLEET_WATCH_TABLE, key: id, entry: null });
    ctx.changed({ table: FLEET_STATUS_TABLE, key: id, entry: null });
    bumpTableIndex(ctx.tx, FLEET_INDEX, ctx.index);
    return true;
  },
};

/** The fleet module: the replicated table of edge agents and MQTT devices and their status. */
export const fleetModule: StateModule = {
  tables: [FLEET_TABLE],
  handlers: { 'fleet.seen': seen, 'fleet.expire': expire, 'fleet.forget': forget },
};

/** Every member, by ID. Index: the fleet table's. */
export function listFleet(tx: ReadTxn): Indexed<FleetMember[]> {
  const value: FleetMember[] = [];
  for (const [, m] of tx.range<FleetMember>(FLEET_TABLE)) value.push(m);
  return { index: readTableIndex(tx, FLEET_INDEX), value };
}

/** One member, or undefined. Index: the fleet table's. */
export function readFleetMember(tx: ReadTxn, id: string): Indexed<FleetMember | undefined> {
  return { index: readTableIndex(tx, FLEET_INDEX), value: tx.get<FleetMember>(FLEET_TABLE, id) };
}

/** Whether any online member has been silent longer than `silenceMs` at `now` (so an expire would do something). */
export function fleetOverdue(tx: ReadTxn, now: number, silenceMs: number): boolean {
  for (const [, m] of tx.range<FleetMember>(FLEET_TABLE))
    if (m.Status === 'online' && m.LastSeen + silenceMs < now) return true;
  return false;
}
