import { CorruptError } from '../errors.js';
import { field } from '../fsm/command.js';
import type { CommandHandler, StateModule } from '../fsm/state-machine.js';
import type { ReadTxn } from '../ports/state-store.js';

/** StateStore table of cluster servers by node name. */
export const MEMBERS_TABLE = 'members';

/** A server's addresses, replicated so every server can reach every other (and forward to the leader). */
export interface MemberRecord {
  readonly name: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
  /** Log index at which the record was last written. */
  readonly modifyIndex: number;
}

/** Registers or updates a server's addresses. Result: true. */
export interface MemberRegisterCommand {
  readonly type: 'member.register';
  readonly name: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
}

/** Forgets a server (after it left or was removed). Result: whether it was known. */
export interface MemberRemoveCommand {
  readonly type: 'member.remove';
  readonly name: string;
}

const register: CommandHandler = {
  apply(ctx, cmd) {
    const name = field.string(cmd, 'name');
    if (name.length === 0) throw new CorruptError('member.register: empty name');
    const rec: MemberRecord = {
      name,
      raftAddr: field.string(cmd, 'raftAddr'),
      httpAddr: field.string(cmd, 'httpAddr'),
      modifyIndex: ctx.index,
    };
    const prev = ctx.tx.get<MemberRecord>(MEMBERS_TABLE, name);
    if (prev && prev.raftAddr === rec.raftAddr && prev.httpAddr === rec.httpAddr) return true;
    ctx.tx.put(MEMBERS_TABLE, name, rec);
    ctx.changed({ table: MEMBERS_TABLE, key: name });
    return true;
  },
};

const remove: CommandHandler = {
  apply(ctx, cmd) {
    const name = field.string(cmd, 'name');
    const existed = ctx.tx.delete(MEMBERS_TABLE, name);
    if (existed) ctx.changed({ table: MEMBERS_TABLE, key: name });
    return existed;
  },
};

/** The members module: the replicated address book of servers. */
export const membersModule: StateModule = {
  tables: [MEMBERS_TABLE],
  handlers: { 'member.register': register, 'member.remove': remove },
};

/** Every known server, by name order. */
export function listMembers(tx: ReadTxn): MemberRecord[] {
  return [...tx.range<MemberRecord>(MEMBERS_TABLE)].map(([, v]) => v);
}
