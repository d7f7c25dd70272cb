import type { Command } from 'commander';
import { CliError } from '../client/errors.js';
import { json, table } from '../client/output.js';
import { type ClientCommand, collect, formatFlag, formatOf } from './common.js';

interface CatalogNode {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses?: Record<string, string> | null;
  Meta?: Record<string, string> | null;
}

/** `-node-meta key=value` pairs (repeatable), as the API's node-meta filter. */
function nodeMeta(values: readonly string[] | undefined): string[] {
  return (values ?? []).map((kv) => {
    if (!/^[^=]+=.*$/.test(kv)) throw new CliError(`-node-meta must be key=value, not ${JSON.stringify(kv)}`, 2);
    return kv.replace('=', ':');
  });
}

const pairs = (m: Record<string, string> | null | undefined) =>
  Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${(m ?? {})[k]}`)
    .join(', ');

/** Registers `catalog datacenters|nodes|services`. */
export function registerCatalogCommands(program: Command, client: ClientCommand): void {
  const catalog = program.command('catalog').description('list datacenters, nodes and services');

  client(formatFlag(catalog.command('datacenters').description('list the known datacenters')), async (c, io, o) => {
    const dcs = await c.json<string[]>('GET', '/v1/catalog/datacenters');
    io.out(formatOf(o as { format?: string }) === 'json' ? json(dcs) : dcs.map((d) => `${d}\n`).join(''));
    return 0;
  });

  client(
    formatFlag(catalog.command('nodes').description('list the nodes'))
      .option('--service <name>', 'only nodes providing this service')
      .option('--node-meta <key=value>', 'only nodes with this metadata (repeatable)', collect)
      .option('--detailed', 'every field, with full IDs')
      .option('--near <node>', 'sort by round-trip time from this node (_agent: this agent)'),
    async (c, io, o: { format?: string; service?: string; nodeMeta?: string[]; detailed?: boolean; near?: string }) => {
      const format = formatOf(o);
      const meta = nodeMeta(o.nodeMeta);
      let nodes: CatalogNode[];
      if (o.service !== undefined) {
        const instances = await c.json<Array<CatalogNode & { Node: string }>>(
          'GET',
          `/v1/catalog/service/${encodeURIComponent(o.service)}`,
          { query: { near: o.near } },
        );
        const seen = new Set<string>();
        nodes = instances.filter((i) => !seen.has(i.Node) && seen.add(i.Node));
      } else {
        const q = new URLSearchParams();
        for (const m of meta) q.append('node-meta', m);
        if (o.near !== undefined) q.set('near', o.near);
        nodes = await c.json<CatalogNode[]>('GET', `/v1/catalog/nodes${q.size > 0 ? `?${q.toString()}` : ''}`);
      }
      if (format === 'json') {
        io.out(json(nodes));
        return 0;
      }
      if (nodes.length === 0) {
        io.err('No nodes match the given query - try expanding your search.\n');
        return 0;
      }
      const header = o.detailed
        ? ['Node', 'ID', 'Address', 'DC', 'TaggedAddresses', 'Meta']
        : ['Node', 'ID', 'Address', 'DC'];
      const rows = nodes.map((n) => {
        const base = [n.Node, o.detailed ? n.ID : n.ID.slice(0, 8), n.Address, n.Datacenter];
        return o.detailed ? [...base, pairs(n.TaggedAddresses), pairs(n.Meta)] : base;
      });
      io.out(table(header, rows));
      return 0;
    },
  );

  client(
    formatFlag(catalog.command('services').description('list the services'))
      .option('--node <name>', "only this node's services")
      .option('--node-meta <key=value>', 'only services on nodes with this metadata (repeatable)', collect)
      .option('--tags', "show each service's tags"),
    async (c, io, o: { format?: string; node?: string; nodeMeta?: string[]; tags?: boolean }) => {
      const format = formatOf(o);
      let services: Record<string, string[]>;
      if (o.node !== undefined) {
        const answer = await c.json<{ Services?: Record<string, { Service: string; Tags?: string[] | null }> } | null>(
          'GET',
          `/v1/catalog/node/${encodeURIComponent(o.node)}`,
        );
        if (!answer) throw new CliError(`No node named ${JSON.stringify(o.node)}`);
        services = {};
        for (const s of Object.values(answer.Services ?? {}))
          services[s.Service] = [...new Set([...(services[s.Service] ?? []), ...(s.Tags ?? [])])];
      } else {
        const q = new URLSearchParams();
        for (const m of nodeMeta(o.nodeMeta)) q.append('node-meta', m);
        services = await c.json<Record<string, string[]>>(
          'GET',
          `/v1/catalog/services${q.size > 0 ? `?${q.toString()}` : ''}`,
        );
      }
      if (format === 'json') {
        io.out(json(services));
        return 0;
      }
      const names = Object.keys(services).sort();
      if (o.tags)
        io.out(
          table(
            undefined,
            names.map((n) => [n, [...(services[n] ?? [])].sort().join(',')]),
          ),
        );
      else io.out(names.map((n) => `${n}\n`).join(''));
      return 0;
    },
  );
}
