import type { Command } from 'commander';
import { parseDuration } from '../../core/util/duration.js';
import { CliError } from '../client/errors.js';
import { json, table } from '../client/output.js';
import { type ClientCommand, collect, formatFlag, formatOf } from './common.js';

/** An experiment as /v1/operator/chaos answers it. */
interface Experiment {
  ID: string;
  Kind: string;
  Server: string;
  Peers: string[];
  DelayMs?: number;
  JitterMs?: number;
  LossPercent?: number;
  Started: string;
  Ends: string;
  Leader?: string;
}

/** What `chaos start` takes. */
interface StartOptions {
  kind?: string;
  server?: string;
  peers?: string[];
  delay?: string;
  jitter?: string;
  loss?: string;
  duration?: string;
  format?: string;
}

/** A duration flag (200ms, 1.5s, 2m) in whole milliseconds, or a usage error naming it. */
function msFlag(text: string, name: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || !Number.isInteger(ms))
    throw new CliError(
      `-${name} must be a duration in whole milliseconds such as 200ms or 2s, not ${JSON.stringify(text)}`,
      2,
    );
  return ms;
}

/** -duration in whole seconds (30s, 5m), or a usage error. */
function secondsFlag(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0 || ms % 1000 !== 0)
    throw new CliError(`-duration must be whole seconds such as 30s or 5m, not ${JSON.stringify(text)}`, 2);
  return ms / 1000;
}

/** -loss as a number (a trailing % is fine), or a usage error. */
function percentFlag(text: string): number {
  const n = Number(text.replace(/%$/, ''));
  if (text.trim() === '' || !Number.isFinite(n))
    throw new CliError(`-loss must be a percentage from 1 to 100, not ${JSON.stringify(text)}`, 2);
  return n;
}

/** The request body `chaos start` sends (the server checks the ranges and says which field is wrong). */
function startBody(o: StartOptions): Record<string, unknown> {
  if (o.kind === undefined)
    throw new CliError('-kind is required: latency, loss, partition, pause-apply or step-down', 2);
  const peers = (o.peers ?? []).flatMap((p) => p.split(',')).filter((p) => p !== '');
  return {
    Kind: o.kind,
    ...(o.server !== undefined ? { Server: o.server } : {}),
    ...(peers.length > 0 ? { Peers: peers } : {}),
    ...(o.delay !== undefined ? { DelayMs: msFlag(o.delay, 'delay') } : {}),
    ...(o.jitter !== undefined ? { JitterMs: msFlag(o.jitter, 'jitter') } : {}),
    ...(o.loss !== undefined ? { LossPercent: percentFlag(o.loss) } : {}),
    ...(o.duration !== undefined ? { DurationSeconds: secondsFlag(o.duration) } : {}),
  };
}

/** What an experiment does, in a few words ("200ms ± 50ms", "10% loss"). */
function effectOf(x: Experiment): string {
  switch (x.Kind) {
    case 'latency':
      return `+${x.DelayMs}ms${x.JitterMs ? ` ± ${x.JitterMs}ms` : ''}`;
    case 'loss':
      return `${x.LossPercent}% dropped`;
    case 'partition':
      return 'cut both ways';
    case 'pause-apply':
      return 'apply loop paused';
    default:
      return x.Leader ? `leader now ${x.Leader}` : '';
  }
}

/** Registers `chaos start|list|stop` (the server needs --enable-chaos; operator ACLs apply). */
export function registerChaosCommands(program: Command, client: ClientCommand): void {
  const chaos = program
    .command('chaos')
    .description('chaos experiments: timed latency, loss, partitions, paused apply, step-down (--enable-chaos)');

  client(
    formatFlag(
      chaos
        .command('start')
        .description('start an experiment on a server (the one asked, or -server); it ends by itself')
        .option('--kind <kind>', 'latency, loss, partition, pause-apply or step-down')
        .option('--server <name>', 'the server to run it on (default: the one asked)')
        .option('--peers <names>', 'latency, loss, partition: the peers whose links it affects (default: all)', collect)
        .option('--delay <duration>', 'latency: added to each message sent to the peers (e.g. 200ms)')
        .option('--jitter <duration>', 'latency: each delay varies by up to ± this')
        .option('--loss <percent>', 'loss: the chance that a message to the peers is dropped (1-100)')
        .option('--duration <duration>', 'how long it lasts (whole seconds, e.g. 30s; not for step-down)'),
    ),
    async (c, io, o: StartOptions) => {
      const format = formatOf(o);
      const x = await c.json<Experiment>('PUT', '/v1/operator/chaos', { body: JSON.stringify(startBody(o)) });
      if (format === 'json') io.out(json(x));
      else if (x.Kind === 'step-down') io.out(`${x.Server} stepped down; the leader is now ${x.Leader ?? 'unknown'}\n`);
      else
        io.out(
          `Started ${x.Kind} experiment ${x.ID} on ${x.Server}` +
            `${x.Peers.length > 0 ? ` (peers ${x.Peers.join(', ')}: ${effectOf(x)})` : ''}; it ends at ${x.Ends}\n`,
        );
      return 0;
    },
  );

  client(
    formatFlag(
      chaos
        .command('list')
        .description('the experiments running on a server')
        .option('--server <name>', 'the server to ask about (default: the one asked)'),
    ),
    async (c, io, o: { server?: string; format?: string }) => {
      const format = formatOf(o);
      const list = await c.json<Experiment[]>('GET', '/v1/operator/chaos', { query: { server: o.server } });
      if (format === 'json') {
        io.out(json(list));
        return 0;
      }
      if (list.length === 0) {
        io.out('No chaos experiments running\n');
        return 0;
      }
      const rows = list.map((x) => [x.ID, x.Kind, x.Server, x.Peers.join(',') || '-', effectOf(x), x.Ends]);
      io.out(table(['ID', 'Kind', 'Server', 'Peers', 'Effect', 'Ends'], rows));
      return 0;
    },
  );

  client(
    chaos
      .command('stop')
      .description('end an experiment now (it rolls back)')
      .argument('<id>', "the experiment's ID")
      .option('--server <name>', 'the server it runs on (default: the one asked)'),
    async (c, io, id: string, o: { server?: string }) => {
      const x = await c.json<Experiment>('DELETE', `/v1/operator/chaos/${encodeURIComponent(id)}`, {
        query: { server: o.server },
      });
      io.out(`Stopped ${x.Kind} experiment ${x.ID} on ${x.Server}\n`);
      return 0;
    },
  );
}
