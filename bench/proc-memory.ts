import { readFileSync } from 'node:fs';

/**
 * A field of a process's /proc/<pid>/status in MB (VmRSS, RssAnon, RssFile: kB there); NaN when
 * the process is unknown or the field absent.
 */
export function statusMb(pid: number | undefined, field: string): number {
  if (pid === undefined) return NaN;
  const kb = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return kb === undefined ? NaN : Number(kb) / 1024;
}
