/** Whether an I/O error means the file system is out of space (or out of quota). */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || /no space left on device/i.test(String((err as Error)?.message));
}
