/**
 * What a committed command changed, as seen by watchers: one key of a table, or every key under a
 * prefix (a recursive delete). Tables are the StateStore table names.
 */
export type Change =
  | { readonly table: string; readonly key: string }
  | { readonly table: string; readonly prefix: string };

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
