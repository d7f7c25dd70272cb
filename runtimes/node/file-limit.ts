import { readFileSync } from 'node:fs';

/** The process's open-file limits (RLIMIT_NOFILE); Infinity for "unlimited". */
export interface FileLimit {
  readonly soft: number;
  readonly hard: number;
}

/**
 * Reads this process's open-file limits from /proc/self/limits (Linux). Undefined where that file
 * does not exist or cannot be parsed (other systems): Node has no getrlimit. Never throws.
 */
export function openFileLimit(): FileLimit | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  const n = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
  const soft = n(m[1] as string);
  const hard = n(m[2] as string);
  return Number.isNaN(soft) || Number.isNaN(hard) ? undefined : { soft, hard };
}
