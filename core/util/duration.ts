const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a Go-style duration ("10s", "1m30s", "250ms", "0") into milliseconds.
 * Returns undefined for anything else (negative values, missing units, garbage).
 */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (text.length === 0 || text.length > 64) return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const m = PART.exec(text);
    if (!m || m.index !== start) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  return Number.isFinite(total) ? total : undefined;
}

/** `n` / 10^digits written as Go does: the integer part, then the fraction without trailing zeros. */
function withFraction(n: number, digits: number): string {
  const scale = 10 ** digits;
  const whole = Math.floor(n / scale);
  const frac = n % scale;
  if (frac === 0) return String(whole);
  return `${whole}.${String(frac).padStart(digits, '0').replace(/0+$/, '')}`;
}

/**
 * Formats a duration of `ns` nanoseconds exactly as Go's time.Duration.String() does ("10s",
 * "1m30s", "24h0m0s", "1.5s", "250ms", "0s"), which is how Consul writes durations in its messages
 * and its DebugConfig. `ns` must be a safe integer (up to about 104 days); throws RangeError otherwise.
 */
export function formatGoDuration(ns: number): string {
  if (!Number.isSafeInteger(ns)) throw new RangeError(`not a whole number of nanoseconds: ${ns}`);
  const sign = ns < 0 ? '-' : '';
  const u = Math.abs(ns);
  if (u === 0) return '0s';
  if (u < 1e3) return `${sign}${u}ns`;
  if (u < 1e6) return `${sign}${withFraction(u, 3)}µs`;
  if (u < 1e9) return `${sign}${withFraction(u, 6)}ms`;
  const totalSeconds = Math.floor(u / 1e9);
  let out = `${withFraction((totalSeconds % 60) * 1e9 + (u % 1e9), 9)}s`;
  if (totalSeconds >= 60) out = `${Math.floor(totalSeconds / 60) % 60}m${out}`;
  if (totalSeconds >= 3600) out = `${Math.floor(totalSeconds / 3600)}h${out}`;
  return sign + out;
}
