/** Sessions by ID (Consul's Session, stored in its JSON shape). */
export const SESSIONS_TABLE = 'sessions';
/** Secondary index: node + NUL + session ID → ''. */
export const SESSION_NODE_INDEX = 'session_nodes';
/** Secondary index: node + "/" + check ID + NUL + session ID → '' (the checks a session is bound to). */
export const SESSION_CHECK_INDEX = 'session_checks';
/** Pseudo-table of change notifications for session blocking queries (one key, SESSIONS_INDEX). */
export const SESSION_WATCH_TABLE = 'session';
/** Logical table name whose modification index answers every session query. */
export const SESSIONS_INDEX = 'sessions';

/** What invalidating a session does to the keys it holds. */
export type SessionBehavior = 'release' | 'delete';

/** A service check a session is bound to. */
export interface ServiceCheckRef {
  readonly ID: string;
  readonly Namespace: string;
}

/** A session, in Consul's JSON shape. LockDelay is in nanoseconds; TTL is a duration string or ''. */
export interface SessionRecord {
  readonly ID: string;
  readonly Name: string;
  readonly Node: string;
  readonly LockDelay: number;
  readonly Behavior: SessionBehavior;
  readonly TTL: string;
  readonly NodeChecks: readonly string[];
  readonly ServiceChecks: readonly ServiceCheckRef[] | null;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** A session as proposed (indexes are assigned when applied). */
export type SessionInput = Omit<SessionRecord, 'CreateIndex' | 'ModifyIndex'>;

/** Shortest and longest session TTL (Consul's session_ttl_min default and its fixed maximum). */
export const SESSION_TTL_MIN_MS = 10_000;
export const SESSION_TTL_MAX_MS = 86_400_000;
/** Default and longest lock delay (Consul's). */
export const DEFAULT_LOCK_DELAY_MS = 15_000;
export const MAX_LOCK_DELAY_MS = 60_000;
/** A session is invalidated this many TTLs after its last renewal (Consul's SessionTTLMultiplier). */
export const SESSION_TTL_MULTIPLIER = 2;
/** The check every agent node has; a session binds to it unless told otherwise. */
export const SERF_CHECK_ID = 'serfHealth';

/** The keys of the check index for `node`'s check `checkId`. */
export const sessionCheckKey = (node: string, checkId: string, session: string): string =>
  `${node}/${checkId}\u0000${session}`;
