import { CorruptError } from '../errors.js';
import { field } from '../fsm/command.js';
import type { CommandHandler, StateModule } from '../fsm/state-machine.js';
import { createSession, destroySession, type SessionDependents } from './ops.js';
import { SESSION_CHECK_INDEX, SESSION_NODE_INDEX, SESSIONS_TABLE, type SessionInput } from './types.js';

/** Creates a session (validated by the proposer; preconditions re-checked when applied). Result: the record. */
export interface SessionCreateCommand {
  readonly type: 'session.create';
  readonly session: SessionInput;
}

/**
 * Invalidates a session: by request (destroy) or because the leader saw its TTL run out.
 * `now` (ms since epoch, proposer's clock) starts the lock delays; what is bound to the session
 * (its prepared queries) ends in the same application. Result: true; NotFoundError when the
 * session does not exist.
 */
export interface SessionDestroyCommand {
  readonly type: 'session.destroy';
  readonly id: string;
  readonly now: number;
}

/** Every session command. */
export type SessionCommand = SessionCreateCommand | SessionDestroyCommand;

const create: CommandHandler = {
  apply(ctx, cmd) {
    const s = cmd['session'] as SessionInput | undefined;
    if (
      !s ||
      typeof s !== 'object' ||
      typeof s.ID !== 'string' ||
      typeof s.Node !== 'string' ||
      !Array.isArray(s.NodeChecks)
    ) {
      throw new CorruptError('session.create: malformed session');
    }
    return createSession(ctx, s);
  },
};

/** The tables of the session module. */
export const SESSION_TABLES: readonly string[] = [SESSIONS_TABLE, SESSION_NODE_INDEX, SESSION_CHECK_INDEX];

/**
 * The session module: sessions and their node and check indexes (Consul's session state). A
 * destroyed or expired session ends its `dependents` (the prepared queries bound to it) in the
 * same application.
 */
export function sessionModule(dependents: SessionDependents): StateModule {
  const destroy: CommandHandler = {
    apply(ctx, cmd) {
      destroySession(ctx, field.string(cmd, 'id'), field.index(cmd, 'now'), dependents);
      return true;
    },
  };
  return { tables: SESSION_TABLES, handlers: { 'session.create': create, 'session.destroy': destroy } };
}
