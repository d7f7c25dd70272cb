import { route } from '../registry.js';
import type { Hono } from 'hono';
import { type AutopilotSetCommand, parseAutopilotConfig, readAutopilotConfig } from '../../cluster/autopilot.js';
import { BadRequestError } from '../../errors.js';
import type { ServerApiDeps } from '../context.js';
import { checkDatacenter, consistentBarrier, hasParam, parseReadOptions, parseUintParam } from '../query.js';
import { jsonResponse, readHeaders } from '../respond.js';
import { readBody } from '../body.js';

const MAX_CONFIG_BODY = 64 * 1024;

/**
 * Registers the operator API: Raft configuration, peer removal, leader transfer, the leader
 * history, and autopilot configuration and health.
 */
export function registerOperatorRoutes(app: Hono, deps: ServerApiDeps): void {
  const op = deps.operator;

  route(app, 'GET', '/v1/operator/raft/configuration', async (c) => {
    const url = new URL(c.req.url);
    const options = parseReadOptions(url, deps);
    await consistentBarrier(deps, options);
    const conf = op.raftConfiguration();
    return jsonResponse(JSON.stringify(conf), 200, readHeaders(deps, Math.max(1, conf.Index), options));
  });

  route(app, 'DELETE', '/v1/operator/raft/peer', async (c) => {
    const url = new URL(c.req.url);
    checkDatacenter(url, deps);
    const id = url.searchParams.get('id') ?? undefined;
    const address = url.searchParams.get('address') ?? undefined;
    if (!id && !address)
      throw new BadRequestError(
        "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
      );
    await op.removePeer({ ...(id ? { id } : {}), ...(address ? { address } : {}) });
    return new Response(null, { status: 200 });
  });

  const transfer = async (url: URL) => {
    checkDatacenter(url, deps);
    await op.transferLeader(url.searchParams.get('id') ?? undefined);
    return jsonResponse(JSON.stringify({ Success: true }));
  };
  route(app, 'POST', '/v1/operator/raft/transfer-leader', (c) => transfer(new URL(c.req.url)));
  route(app, 'PUT', '/v1/operator/raft/transfer-leader', (c) => transfer(new URL(c.req.url)));

  // A Konsul extension: the leader changes the receiving server observed, oldest first, and its name.
  route(app, 'GET', '/v1/operator/raft/leader-history', (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    return jsonResponse(JSON.stringify({ Changes: op.leaderHistory(), Server: deps.node.name }));
  });

  route(app, 'GET', '/v1/operator/autopilot/configuration', async (c) => {
    const url = new URL(c.req.url);
    const options = parseReadOptions(url, deps);
    await consistentBarrier(deps, options);
    const config = deps.store.read(readAutopilotConfig);
    return jsonResponse(JSON.stringify(config), 200, readHeaders(deps, Math.max(1, config.ModifyIndex), options));
  });

  route(app, 'PUT', '/v1/operator/autopilot/configuration', async (c) => {
    const url = new URL(c.req.url);
    checkDatacenter(url, deps);
    const text = new TextDecoder().decode(await readBody(c.req.raw, MAX_CONFIG_BODY, deps.bodyReader));
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new BadRequestError('Request body is not valid JSON');
    }
    const config = parseAutopilotConfig(body, deps.store.read(readAutopilotConfig));
    const casText = url.searchParams.get('cas');
    const command: AutopilotSetCommand = {
      type: 'autopilot.set',
      config,
      ...(casText !== null ? { cas: parseUintParam(casText, 'cas index') } : {}),
    };
    const { value } = await deps.writer.submit<boolean>(command);
    return jsonResponse(hasParam(url, 'cas') ? String(value) : 'true');
  });

  route(app, 'GET', '/v1/operator/autopilot/health', (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const health = op.autopilotHealth();
    // Consul answers 429 when the cluster is unhealthy, with the same body.
    return jsonResponse(JSON.stringify(health), health.Healthy ? 200 : 429);
  });
  // Consul 1.9's newer view of the same: servers by ID with their role, the leader and the voters.
  route(app, 'GET', '/v1/operator/autopilot/state', (c) => {
    checkDatacenter(new URL(c.req.url), deps);
    const health = op.autopilotHealth();
    const leader = health.Servers.find((s) => s.Leader);
    const servers = Object.fromEntries(
      health.Servers.map((s) => [
        s.ID,
        {
          ID: s.ID,
          Name: s.Name,
          Address: s.Address,
          NodeStatus: s.SerfStatus,
          Version: s.Version,
          LastContact: s.LastContact,
          LastTerm: s.LastTerm,
          LastIndex: s.LastIndex,
          Healthy: s.Healthy,
          StableSince: s.StableSince,
          Status: s.Leader ? 'leader' : s.Voter ? 'voter' : 'non-voter',
          ReadReplica: false,
          Meta: {},
          NodeType: 'voter',
        },
      ]),
    );
    const voters = health.Servers.filter((s) => s.Voter).map((s) => s.ID);
    return jsonResponse(
      JSON.stringify({
        Healthy: health.Healthy,
        FailureTolerance: health.FailureTolerance,
        OptimisticFailureTolerance: health.FailureTolerance,
        Servers: servers,
        Leader: leader?.ID ?? '',
        Voters: voters,
        RedundancyZones: {},
        ReadReplicas: [],
        Upgrade: null,
      }),
    );
  });
}
