import { statfsSync } from 'node:fs';

/** Linux errno values for "no space left on device" and "disk quota exceeded", as native modules give them. */
const ENOSPC = 28;
const EDQUOT = 122;
const EIO = 5;

/**
 * Free bytes below which an I/O error from a write is taken for a full disk: a write that runs out
 * of space part of the way through fails with EIO in LMDB (a short write), not ENOSPC.
 */
export const NEARLY_FULL_BYTES = 16 * 1024 * 1024;

/** Whether an I/O error means the file system is out of space (or out of quota). */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return (
    code === 'ENOSPC' ||
    code === 'EDQUOT' ||
    code === ENOSPC ||
    code === EDQUOT ||
    /no space left on device/i.test(String((err as Error)?.message))
  );
}

/**
 * Whether a failed write under `path` is best explained by a full disk: the error says so, or it is
 * an I/O error (EIO) while the file system holding `path` has less than NEARLY_FULL_BYTES free.
 */
export function failedForSpace(err: unknown, path: string): boolean {
  if (isDiskFull(err)) return true;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code !== EIO && code !== 'EIO') return false;
  try {
    const st = statfsSync(path);
    return st.bavail * st.bsize < NEARLY_FULL_BYTES;
  } catch {
    return false;
  }
}
