import type { Command } from 'commander';
import { CliError } from '../client/errors.js';
import type { ClientCommand } from './common.js';

interface AgentCheck {
  CheckID: string;
  ServiceID: string;
  Notes: string;
}

/** Registers `join`, `leave`, `maint` and `monitor`. */
export function registerAgentCommands(program: Command, client: ClientCommand): void {
  client(
    program
      .command('join')
      .description("join the agent's server to the cluster of the servers at these raft addresses")
      .argument('<address...>', 'HOST:PORT of a server (its raft address)'),
    async (c, io, addresses: string[]) => {
      let joined = 0;
      const failures: string[] = [];
      for (const addr of addresses) {
        const a = await c.request('PUT', `/v1/agent/join/${encodeURIComponent(addr)}`);
        if (a.status === 200) joined++;
        else failures.push(`${addr}: ${a.body.toString().trim() || a.status}`);
      }
      if (joined === 0) throw new CliError(`Error joining address(es): ${failures.join('; ')}`);
      for (const f of failures) io.err(`Error joining ${f}\n`);
      io.out(`Successfully joined cluster by contacting ${joined} nodes.\n`);
      return 0;
    },
  );

  client(program.command('leave').description('make the agent leave the cluster and shut down'), async (c, io) => {
    await c.ok('PUT', '/v1/agent/leave');
    io.out('Graceful leave complete\n');
    return 0;
  });

  client(
    program
      .command('maint')
      .description('put the node or a service in maintenance, take it out, or list what is in maintenance')
      .option('--enable', 'enable maintenance mode')
      .option('--disable', 'disable maintenance mode')
      .option('--reason <text>', "why (shown as the maintenance check's notes)", '')
      .option('--service <id>', 'a service ID instead of the whole node'),
    async (c, io, o: { enable?: boolean; disable?: boolean; reason: string; service?: string }) => {
      if (o.enable && o.disable) throw new CliError('Only one of -enable or -disable may be provided', 2);
      if (!o.enable && !o.disable) {
        if (o.reason !== '' || o.service !== undefined)
          throw new CliError('Cannot specify -reason or -service without -enable or -disable', 2);
        const checks = await c.json<Record<string, AgentCheck>>('GET', '/v1/agent/checks');
        const self = await c.json<{ Config: { NodeName: string } }>('GET', '/v1/agent/self');
        for (const check of Object.values(checks)) {
          if (check.CheckID === '_node_maintenance')
            io.out(`Node:\n  Name:   ${self.Config.NodeName}\n  Reason: ${check.Notes}\n\n`);
          else if (check.CheckID.startsWith('_service_maintenance:'))
            io.out(`Service:\n  ID:     ${check.ServiceID}\n  Reason: ${check.Notes}\n\n`);
        }
        return 0;
      }
      const query = { enable: o.enable === true ? 'true' : 'false', reason: o.reason || undefined };
      if (o.service !== undefined) {
        const a = await c.request('PUT', `/v1/agent/service/maintenance/${encodeURIComponent(o.service)}`, { query });
        if (a.status === 404) throw new CliError(`No service registered with ID "${o.service}"`);
        if (a.status !== 200)
          throw new CliError(
            `Error ${o.enable ? 'enabling' : 'disabling'} service maintenance: ${a.body.toString().trim()}`,
          );
        io.out(`Service maintenance is now ${o.enable ? 'enabled' : 'disabled'} for "${o.service}"\n`);
        return 0;
      }
      await c.ok('PUT', '/v1/agent/maintenance', { query });
      io.out(`Node maintenance is now ${o.enable ? 'enabled' : 'disabled'}\n`);
      return 0;
    },
  );

  client(
    program
      .command('monitor')
      .description("stream the agent's log lines until interrupted")
      .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
      .option('--log-json', 'log lines as JSON'),
    async (c, io, o: { logLevel: string; logJson?: boolean }) => {
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await c.stream(
          '/v1/agent/monitor',
          { loglevel: o.logLevel, logjson: o.logJson },
          (chunk) => io.out(chunk),
          abort.signal,
        );
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      if (!abort.signal.aborted)
        io.err('Remote side ended the monitor! This usually means that the remote side has exited or crashed.\n');
      return abort.signal.aborted ? 0 : 1;
    },
  );
}
