import { DEFAULT_API_LIMITS } from '../core/api/context.js';
import { LOG_LEVELS, type LogLevel } from '../core/ports/logger.js';
import type { LogFormat } from '../core/log/logger.js';
import { type HostPort, type OptionSpec, type OptionValues, parseHostPort } from '../runtimes/options.js';

/** Options of `konsul server`. */
export const SERVER_OPTIONS: readonly OptionSpec[] = [
  { name: 'dev', kind: { type: 'boolean' }, describe: 'single-node development server with embedded defaults', default: false },
  { name: 'config', kind: { type: 'string' }, describe: 'JSON config file (keys are flag names in snake_case)' },
  { name: 'http-addr', kind: { type: 'addr' }, describe: 'HTTP API listen address HOST:PORT (port 0 picks a free port)', default: '127.0.0.1:8500' },
  { name: 'data-dir', kind: { type: 'string' }, describe: 'directory for persistent state (LMDB)', default: './.konsul' },
  {
    name: 'node-name',
    kind: { type: 'string', pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, patternHint: 'must be 1-63 letters, digits, "-", "_" or "."' },
    describe: 'name of this node (default: the host name)',
  },
  {
    name: 'datacenter',
    kind: { type: 'string', pattern: /^[a-z0-9][a-z0-9_-]{0,62}$/, patternHint: 'must be 1-63 lower-case letters, digits, "-" or "_"' },
    describe: 'datacenter name',
    default: 'dc1',
  },
  { name: 'log-level', kind: { type: 'enum', values: LOG_LEVELS }, describe: 'minimum level logged', default: 'info' },
  { name: 'log-format', kind: { type: 'enum', values: ['text', 'json'] }, describe: 'log line format', default: 'text' },
  {
    name: 'kv-max-value-size',
    kind: { type: 'int', min: 1, max: 16 * 1024 * 1024 },
    describe: 'largest KV value in bytes',
    default: DEFAULT_API_LIMITS.kvMaxValueBytes,
  },
  {
    name: 'max-blocking-queries',
    kind: { type: 'int', min: 1, max: 1_000_000 },
    describe: 'concurrent blocking queries before new ones get 503',
    default: 16_384,
  },
  {
    name: 'hot-paths',
    kind: { type: 'enum', values: ['auto', 'wasm', 'ts'] },
    describe: 'hot-path implementation: the faster per operation, or all WebAssembly / all TypeScript',
    default: 'auto',
  },
  {
    name: 'max-pending-writes',
    kind: { type: 'int', min: 1, max: 1_000_000 },
    describe: 'writes queued for commit before new ones get 503',
    default: 16_384,
  },
];

/** The validated configuration of a server process. */
export interface ServerConfig {
  readonly dev: boolean;
  readonly httpAddr: HostPort;
  readonly dataDir: string;
  /** Undefined: use the host name. */
  readonly nodeName: string | undefined;
  readonly datacenter: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly kvMaxValueBytes: number;
  readonly maxBlockingQueries: number;
  readonly maxPendingWrites: number;
  readonly hotPaths: 'auto' | 'wasm' | 'ts';
}

/** Converts resolved option values (already validated by kind) to a ServerConfig. */
export function toServerConfig(v: OptionValues): ServerConfig {
  return {
    dev: v['dev'] === true,
    httpAddr: parseHostPort(String(v['http-addr']), '--http-addr'),
    dataDir: String(v['data-dir']),
    nodeName: v['node-name'] === undefined ? undefined : String(v['node-name']),
    datacenter: String(v['datacenter']),
    logLevel: v['log-level'] as LogLevel,
    logFormat: v['log-format'] as LogFormat,
    kvMaxValueBytes: Number(v['kv-max-value-size']),
    maxBlockingQueries: Number(v['max-blocking-queries']),
    maxPendingWrites: Number(v['max-pending-writes']),
    hotPaths: v['hot-paths'] as ServerConfig['hotPaths'],
  };
}
