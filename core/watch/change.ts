/**
 * What a committed command changed, as seen by watchers and change feeds: one key of a table, or
 * every key under a prefix (a recursive delete, or `reset` when a restore replaced the table).
 * Tables are StateStore table names or pseudo-tables of notifications.
 *
 * `entry`, when a module describes it, is the key's new record (null: the key was removed);
 * undefined means the change is only a notification. A prefix change may list the `keys` it
 * removed (so a publisher can clear per-key copies).
 */
export type Change =
  | { readonly table: string; readonly key: string; readonly entry?: unknown }
  | { readonly table: string; readonly prefix: string; readonly reset?: boolean; readonly keys?: readonly string[] };

/** Whether `change` touches anything a watcher of `table` + (`key` exact, or `prefix`) observes. */
export function changeMatches(
  change: Change,
  table: string,
  watched: { readonly key: string } | { readonly prefix: string },
): boolean {
  if (change.table !== table) return false;
  if ('key' in change) {
    return 'key' in watched ? watched.key === change.key : change.key.startsWith(watched.prefix);
  }
  // A prefix change overlaps a watched key or prefix when one is a prefix of the other.
  if ('key' in watched) return watched.key.startsWith(change.prefix);
  return watched.prefix.startsWith(change.prefix) || change.prefix.startsWith(watched.prefix);
}

/** A change and the log index of the command that made it. */
export interface IndexedChange {
  readonly index: number;
  readonly change: Change;
}

/**
 * What an Applier (core/fsm) tells its listeners (change feeds): the changes of applied entries, in index
 * order, or that the whole state was replaced at `index` (a Raft snapshot was installed) so
 * earlier changes no longer describe it.
 */
export interface ApplyListener {
  applied(changes: readonly IndexedChange[], appliedIndex: number): void;
  replaced(index: number): void;
}
