import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Command } from 'commander';
import { pack as tarPack } from 'tar-stream';
import { CliError } from '../client/errors.js';
import { progress } from '../client/output.js';
import type { ClientCommand } from './common.js';

/** Log bytes kept for the bundle at most (the rest of the stream is counted, not kept). */
const MAX_LOG_BYTES = 64 * 1024 * 1024;
/** Metrics samples taken at most. */
const MAX_SAMPLES = 1000;

/** A Go-style duration ("30s", "2m", "1h") in milliseconds, or a usage error naming the flag. */
function durationMs(text: string, flag: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new CliError(`-${flag} must be a duration such as 30s or 2m, not ${JSON.stringify(text)}`, 2);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

/** Registers `debug`. */
export function registerDebugCommand(program: Command, client: ClientCommand): void {
  client(
    program
      .command('debug')
      .description("collect the agent's state, metrics samples and logs for a while into a .tar.gz")
      .option('--duration <d>', 'how long to collect logs and metrics', '2m')
      .option('--interval <d>', 'how often to sample the metrics', '30s')
      .option('--output <path>', 'the archive (default: konsul-debug-<unix time>.tar.gz)'),
    async (c, io, o: { duration: string; interval: string; output?: string }) => {
      const duration = durationMs(o.duration, 'duration');
      const interval = durationMs(o.interval, 'interval');
      if (interval < 1000) throw new CliError('-interval must be at least 1s', 2);
      if (duration < interval) throw new CliError('-duration must be at least -interval', 2);
      const started = new Date();
      const name = `konsul-debug-${Math.floor(started.getTime() / 1000)}`;
      const output = o.output ?? `${name}.tar.gz`;

      // What the agent is now. A route that answers an error (autopilot's 429, a 403) is kept as it is.
      const files: Array<[string, Buffer]> = [];
      const capture = async (file: string, path: string): Promise<void> => {
        const a = await c.request('GET', path);
        files.push([
          file,
          a.status === 200 ? a.body : Buffer.from(JSON.stringify({ Status: a.status, Body: a.body.toString() })),
        ]);
      };
      await capture('agent.json', '/v1/agent/self');
      await capture('members.json', '/v1/agent/members');
      await capture('raft.json', '/v1/operator/raft/configuration');
      await capture('autopilot.json', '/v1/operator/autopilot/health');

      // The log stream (debug level) and metrics samples for the duration.
      const logs: Buffer[] = [];
      let logBytes = 0;
      let logDropped = 0;
      const stop = new AbortController();
      const monitor = c
        .stream(
          '/v1/agent/monitor',
          { loglevel: 'debug' },
          (chunk) => {
            if (logBytes + chunk.byteLength > MAX_LOG_BYTES) logDropped += chunk.byteLength;
            else {
              logs.push(chunk);
              logBytes += chunk.byteLength;
            }
          },
          stop.signal,
        )
        .catch((err: unknown) => io.err(`debug: the log stream failed: ${(err as Error).message}\n`));
      const bar = progress(io, 'Collecting', Math.ceil(duration / 1000));
      const end = Date.now() + duration;
      let sample = 0;
      for (;;) {
        if (sample < MAX_SAMPLES) {
          const a = await c.request('GET', '/v1/agent/metrics');
          files.push([`metrics/${String(sample).padStart(4, '0')}.json`, a.body]);
          sample++;
        }
        const left = end - Date.now();
        bar.update(Math.min(Math.ceil(duration / 1000), Math.floor((duration - Math.max(0, left)) / 1000)));
        if (left <= 0) break;
        await new Promise((r) => setTimeout(r, Math.min(interval, left)));
      }
      stop.abort();
      await monitor;
      bar.stop();
      files.push(['monitor.log', Buffer.concat(logs)]);
      files.push([
        'index.json',
        Buffer.from(
          JSON.stringify(
            {
              Version: 1,
              Started: started.toISOString(),
              Ended: new Date().toISOString(),
              Duration: o.duration,
              Interval: o.interval,
              MetricsSamples: sample,
              LogBytes: logBytes,
              LogBytesDropped: logDropped,
              Agent: c.config.base,
            },
            null,
            2,
          ),
        ),
      ]);

      const tar = tarPack();
      const written = pipeline(tar, createGzip(), createWriteStream(output, { mode: 0o600 }));
      for (const [file, body] of files) tar.entry({ name: `${name}/${file}`, mode: 0o600, mtime: started }, body);
      tar.finalize();
      try {
        await written;
      } catch (err) {
        throw new CliError(`cannot write ${output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      io.out(`Saved debug archive: ${output}\n`);
      return 0;
    },
  );
}
