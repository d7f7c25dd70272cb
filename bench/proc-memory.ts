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

/**
 * CPU time a process has used so far in user and kernel mode (utime, stime), in clock ticks
 * (USER_HZ, 100 on Linux), and its voluntary and involuntary context switches; NaN fields when the
 * process is unknown or gone.
 */
export function processCpu(pid: number | undefined): { user: number; system: number; vcsw: number; ivcsw: number } {
  try {
    if (pid === undefined) throw new Error('no pid');
    const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] as string).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const count = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
    return {
      user: Number(fields[11]),
      system: Number(fields[12]),
      vcsw: count('voluntary_ctxt_switches'),
      ivcsw: count('nonvoluntary_ctxt_switches'),
    };
  } catch {
    return { user: NaN, system: NaN, vcsw: NaN, ivcsw: NaN };
  }
}

/** CPU time a process has used so far (utime + stime) in clock ticks; NaN when unknown or gone. */
export function processTicks(pid: number | undefined): number {
  const c = processCpu(pid);
  return c.user + c.system;
}
