import type { Command } from 'commander';
import { json, table } from '../client/output.js';
import { type ClientCommand, formatFlag, formatOf } from './common.js';

/** A member as /v1/agent/members answers it (Consul's shape). */
interface Member {
  Name: string;
  Addr: string;
  Port: number;
  Status: number;
  Tags?: Record<string, string>;
}

/** Serf's member status codes, as Consul prints them. */
const STATUS: Record<number, string> = { 0: 'none', 1: 'alive', 2: 'leaving', 3: 'left', 4: 'failed' };

/** Registers `members` and `info`. */
export function registerMemberCommands(program: Command, client: ClientCommand): void {
  client(
    formatFlag(program.command('members').description('list the servers of the cluster, as Consul does')).option(
      '--status <regexp>',
      'only members whose status matches (alive, left, failed)',
    ),
    async (c, io, o: { format?: string; status?: string }) => {
      const format = formatOf(o);
      let members = await c.json<Member[]>('GET', '/v1/agent/members');
      if (o.status !== undefined) {
        const re = new RegExp(o.status);
        members = members.filter((m) => re.test(STATUS[m.Status] ?? String(m.Status)));
      }
      members.sort((a, b) => a.Name.localeCompare(b.Name));
      if (format === 'json') {
        io.out(json(members));
        return 0;
      }
      const rows = members.map((m) => [
        m.Name,
        `${m.Addr}:${m.Port}`,
        STATUS[m.Status] ?? String(m.Status),
        m.Tags?.['role'] === 'consul' ? 'server' : 'client',
        m.Tags?.['build'] ?? '',
        m.Tags?.['vsn'] ?? '',
        m.Tags?.['dc'] ?? '',
        'default',
        '<all>',
      ]);
      io.out(table(['Node', 'Address', 'Status', 'Type', 'Build', 'Protocol', 'DC', 'Partition', 'Segment'], rows));
      return 0;
    },
  );

  client(
    formatFlag(program.command('info').description("the agent's configuration and state, by section")),
    async (c, io, o: { format?: string }) => {
      const self = await c.json<{
        Config?: Record<string, unknown>;
        Member?: Member;
        Stats?: Record<string, Record<string, string>>;
      }>('GET', '/v1/agent/self');
      if (formatOf(o) === 'json') {
        io.out(json(self));
        return 0;
      }
      const sections: Record<string, Record<string, string>> = {
        agent: {
          node: String(self.Config?.['NodeName'] ?? ''),
          node_id: String(self.Config?.['NodeID'] ?? ''),
          datacenter: String(self.Config?.['Datacenter'] ?? ''),
          server: String(self.Config?.['Server'] ?? ''),
          version: String(self.Config?.['Version'] ?? ''),
        },
        ...(self.Stats ?? {}),
      };
      for (const name of Object.keys(sections).sort()) {
        io.out(`${name}:\n`);
        const fields = sections[name] ?? {};
        for (const k of Object.keys(fields).sort()) io.out(`\t${k} = ${fields[k]}\n`);
      }
      return 0;
    },
  );
}
