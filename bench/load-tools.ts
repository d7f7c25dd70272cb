/**
 * Load generators written in C for the benches whose server answers faster than a Node client can
 * ask: wrk for HTTP and dnsperf for DNS (Debian packages; `node testing/system-packages.mjs bench`
 * installs them). Both run closed-loop with a fixed number of requests in flight.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What one load phase measured: requests per second, latency percentiles in ms, failures. */
export interface LoadResult {
  readonly ops: number;
  readonly perSec: number;
  readonly p50: number;
  readonly p99: number;
  /** Non-2xx answers (HTTP) or lost queries (DNS). */
  readonly errors: number;
  /** DNS only: answers per response code (NOERROR, NXDOMAIN, ...). */
  readonly rcodes?: Readonly<Record<string, number>>;
}

/** Lua for wrk: each thread walks `paths` from its own offset; at the end one summary line. */
const WRK_SCRIPT = (paths: readonly string[]) => `
local paths = { ${paths.map((p) => JSON.stringify(p)).join(', ')} }
local threads = 0
function setup(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end
local i = 0
function init(args)
  i = offset or 0
end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("KONSUL-WRK %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
`;

/**
 * GETs `paths` (cycled, each of wrk's threads from its own offset) from `base` (http://host:port)
 * with `connections` keep-alive connections for `seconds`.
 */
export async function wrkPhase(
  base: string,
  paths: readonly string[],
  options: { connections: number; seconds: number; threads?: number },
): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'konsul-wrk-'));
  try {
    const script = join(dir, 'paths.lua');
    writeFileSync(script, WRK_SCRIPT(paths));
    const threads = Math.min(options.threads ?? 2, options.connections);
    const { stdout } = await run(
      'wrk',
      [`-t${threads}`, `-c${options.connections}`, `-d${options.seconds}s`, '--timeout', '10s', '-s', script, base],
      { maxBuffer: 16 * 2 ** 20 },
    );
    const m = /KONSUL-WRK (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(stdout);
    if (!m) throw new Error(`wrk printed no summary:\n${stdout}`);
    const [requests, durationUs, p50Us, p99Us, status, socket] = m.slice(1).map(Number) as number[];
    return {
      ops: requests!,
      perSec: requests! / (durationUs! / 1e6),
      p50: p50Us! / 1000,
      p99: p99Us! / 1000,
      errors: status! + socket!,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Sends the DNS `questions` (`name TYPE`, cycled) over UDP with EDNS0 (4,096-byte answers) to
 * `addr` (host:port) from `clients` sockets (default: `inFlight`) with `inFlight` queries
 * outstanding for `seconds`, and takes the latency
 * percentiles from dnsperf's per-query lines.
 */
export async function dnsperfPhase(
  addr: string,
  questions: readonly string[],
  options: { inFlight: number; seconds: number; clients?: number },
): Promise<LoadResult> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), addr.slice(addr.lastIndexOf(':') + 1)];
  const dir = mkdtempSync(join(tmpdir(), 'konsul-dnsperf-'));
  try {
    const data = join(dir, 'queries.txt');
    writeFileSync(data, `${questions.join('\n')}\n`);
    const n = String(options.inFlight);
    const clients = String(options.clients ?? options.inFlight);
    const { stdout } = await run(
      'dnsperf',
      ['-s', host!, '-p', port!, '-d', data, '-c', clients, '-q', n, '-l', String(options.seconds), '-e', '-v'],
      { maxBuffer: 1024 * 2 ** 20 },
    );
    const lat: number[] = [];
    const rcodes: Record<string, number> = {};
    for (const m of stdout.matchAll(/^> (\S+) \S+ \S+ ([\d.]+)$/gm)) {
      lat.push(Number(m[2]) * 1000);
      rcodes[m[1]!] = (rcodes[m[1]!] ?? 0) + 1;
    }
    const lost = Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? NaN);
    const perSec = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
    if (lat.length === 0 || Number.isNaN(perSec))
      throw new Error(`dnsperf printed no results:\n${stdout.slice(-2000)}`);
    lat.sort((a, b) => a - b);
    const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]!;
    return { ops: lat.length, perSec, p50: pct(50), p99: pct(99), errors: lost, rcodes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
