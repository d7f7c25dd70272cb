import type { Command } from 'commander';
import { CliError } from '../client/errors.js';
import { json, table } from '../client/output.js';
import { type ClientCommand, formatFlag, formatOf, intFlag } from './common.js';

interface RaftServer {
  ID: string;
  Node: string;
  Address: string;
  Leader: boolean;
  Voter: boolean;
  ProtocolVersion: string;
}

interface AutopilotConfig {
  CleanupDeadServers: boolean;
  LastContactThreshold: string;
  MaxTrailingLogs: number;
  MinQuorum: number;
  ServerStabilizationTime: string;
  RedundancyZoneTag: string;
  DisableUpgradeMigration: boolean;
  UpgradeVersionTag: string;
  ModifyIndex: number;
}

const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

function boolFlag(text: string, name: string): boolean {
  if (/^(1|t|true)$/i.test(text)) return true;
  if (/^(0|f|false)$/i.test(text)) return false;
  throw new CliError(`-${name} must be true or false, not ${JSON.stringify(text)}`, 2);
}

function durationFlag(text: string, name: string): string {
  if (!GO_DURATION.test(text))
    throw new CliError(`-${name} must be a duration such as 200ms or 10s, not ${JSON.stringify(text)}`, 2);
  return text;
}

/**
 * Registers `operator raft list-peers|remove-peer|transfer-leader` and
 * `operator autopilot get-config|set-config|state`.
 */
export function registerOperatorCommands(program: Command, client: ClientCommand): void {
  const operator = program.command('operator').description('Raft peers and autopilot');
  const raft = operator.command('raft').description('the Raft configuration');

  client(
    formatFlag(raft.command('list-peers').description('the servers of the Raft configuration')).option(
      '--stale',
      'let any server answer',
    ),
    async (c, io, o: { format?: string; stale?: boolean }) => {
      const conf = await c.json<{ Servers: RaftServer[]; Index: number }>('GET', '/v1/operator/raft/configuration', {
        query: { stale: o.stale },
      });
      if (formatOf(o) === 'json') {
        io.out(json(conf));
        return 0;
      }
      const rows = conf.Servers.map((s) => [
        s.Node,
        s.ID,
        s.Address,
        s.Leader ? 'leader' : 'follower',
        String(s.Voter),
        s.ProtocolVersion || '3',
      ]);
      io.out(table(['Node', 'ID', 'Address', 'State', 'Voter', 'RaftProtocol'], rows));
      return 0;
    },
  );

  client(
    raft
      .command('remove-peer')
      .description('remove a server from the Raft configuration')
      .option('--id <id>', "the server's ID")
      .option('--address <addr>', "the server's raft address (IP:port)"),
    async (c, io, o: { id?: string; address?: string }) => {
      if ((o.id === undefined) === (o.address === undefined))
        throw new CliError('Must specify either -id or -address (one of them)', 2);
      await c.ok('DELETE', '/v1/operator/raft/peer', { query: { id: o.id, address: o.address } });
      io.out(o.id !== undefined ? `Removed peer with id "${o.id}"\n` : `Removed peer with address "${o.address}"\n`);
      return 0;
    },
  );

  client(
    raft
      .command('transfer-leader')
      .description('hand the leadership to another server (-id), or to any other voter')
      .option('--id <id>', "the new leader's ID"),
    async (c, io, o: { id?: string }) => {
      await c.ok('POST', '/v1/operator/raft/transfer-leader', { query: { id: o.id } });
      io.out('Success\n');
      return 0;
    },
  );

  const autopilot = operator.command('autopilot').description("autopilot's configuration and state");

  client(formatFlag(autopilot.command('get-config').description("autopilot's configuration")), async (c, io, o) => {
    const conf = await c.json<AutopilotConfig>('GET', '/v1/operator/autopilot/configuration');
    if (formatOf(o as { format?: string }) === 'json') {
      io.out(json(conf));
      return 0;
    }
    io.out(
      [
        `CleanupDeadServers = ${conf.CleanupDeadServers}`,
        `LastContactThreshold = ${conf.LastContactThreshold}`,
        `MaxTrailingLogs = ${conf.MaxTrailingLogs}`,
        `MinQuorum = ${conf.MinQuorum}`,
        `ServerStabilizationTime = ${conf.ServerStabilizationTime}`,
        `RedundancyZoneTag = ${JSON.stringify(conf.RedundancyZoneTag)}`,
        `DisableUpgradeMigration = ${conf.DisableUpgradeMigration}`,
        `UpgradeVersionTag = ${JSON.stringify(conf.UpgradeVersionTag)}`,
      ]
        .map((l) => `${l}\n`)
        .join(''),
    );
    return 0;
  });

  client(
    autopilot
      .command('set-config')
      .description("change autopilot's configuration (only the flags given)")
      .option('--cleanup-dead-servers <bool>', 'remove dead servers when a new one joins')
      .option('--max-trailing-logs <n>', 'log entries a healthy server may trail the leader by')
      .option('--min-quorum <n>', 'servers below which dead ones are not removed')
      .option('--last-contact-threshold <duration>', 'longest time without contact for a healthy server')
      .option('--server-stabilization-time <duration>', 'how long a new server must be healthy to become a voter'),
    async (
      c,
      io,
      o: {
        cleanupDeadServers?: string;
        maxTrailingLogs?: string;
        minQuorum?: string;
        lastContactThreshold?: string;
        serverStabilizationTime?: string;
      },
    ) => {
      const current = await c.json<AutopilotConfig>('GET', '/v1/operator/autopilot/configuration');
      const next: AutopilotConfig = {
        ...current,
        ...(o.cleanupDeadServers !== undefined
          ? { CleanupDeadServers: boolFlag(o.cleanupDeadServers, 'cleanup-dead-servers') }
          : {}),
        ...(o.maxTrailingLogs !== undefined
          ? { MaxTrailingLogs: intFlag(o.maxTrailingLogs, 'max-trailing-logs') }
          : {}),
        ...(o.minQuorum !== undefined ? { MinQuorum: intFlag(o.minQuorum, 'min-quorum') } : {}),
        ...(o.lastContactThreshold !== undefined
          ? { LastContactThreshold: durationFlag(o.lastContactThreshold, 'last-contact-threshold') }
          : {}),
        ...(o.serverStabilizationTime !== undefined
          ? { ServerStabilizationTime: durationFlag(o.serverStabilizationTime, 'server-stabilization-time') }
          : {}),
      };
      // Compare-and-set on the index read: a concurrent change is not overwritten.
      const a = await c.ok('PUT', '/v1/operator/autopilot/configuration', {
        query: { cas: current.ModifyIndex },
        body: JSON.stringify(next),
      });
      if (a.body.toString().trim() !== 'true')
        throw new CliError('Configuration could not be atomically updated, please try again');
      io.out('Configuration updated!\n');
      return 0;
    },
  );

  client(formatFlag(autopilot.command('state').description("autopilot's view of the servers")), async (c, io, o) => {
    const a = await c.request('GET', '/v1/operator/autopilot/state');
    if (a.status !== 200) throw new CliError(`the server answered ${a.status}: ${a.body.toString().trim()}`);
    const state = JSON.parse(a.body.toString()) as {
      Healthy: boolean;
      FailureTolerance: number;
      Leader: string;
      Voters: string[];
      Servers: Record<
        string,
        {
          ID: string;
          Name: string;
          Address: string;
          Status: string;
          Healthy: boolean;
          LastContact: string;
          LastTerm: number;
          LastIndex: number;
          Version: string;
        }
      >;
    };
    if (formatOf(o as { format?: string }) === 'json') {
      io.out(json(state));
      return 0;
    }
    const field = (name: string, value: unknown, indent = '') =>
      `${indent}${`${name}:`.padEnd(30 - indent.length)}${String(value)}\n`;
    io.out(
      field('Healthy', state.Healthy) +
        field('Failure Tolerance', state.FailureTolerance) +
        field('Leader', state.Leader),
    );
    io.out('Voters:\n');
    for (const v of state.Voters) io.out(`   ${v}\n`);
    io.out('\nServers:\n');
    for (const s of Object.values(state.Servers)) {
      io.out(`   ${s.ID}\n`);
      for (const [name, value] of [
        ['Name', s.Name],
        ['Address', s.Address],
        ['Version', s.Version],
        ['Status', s.Status],
        ['Healthy', s.Healthy],
        ['Last Contact', s.LastContact],
        ['Last Term', s.LastTerm],
        ['Last Index', s.LastIndex],
      ] as const)
        io.out(field(name, value, '      '));
    }
    return 0;
  });
}
