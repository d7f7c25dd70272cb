import { type AuditSink, NO_AUDIT } from '../core/api/audit-sink.js';
import { type ChaosPort, chaosAuditEvent, type RelayedChaosRequest } from '../core/api/routes/chaos.js';
import { ChaosController } from '../core/chaos/controller.js';
import { LinkFaults } from '../core/chaos/link-faults.js';
import { BadRequestError, ConflictError, KonsulError } from '../core/errors.js';
import type { Clock } from '../core/ports/clock.js';
import type { Logger } from '../core/ports/logger.js';
import type { Metrics } from '../core/ports/metrics.js';
import type { Rng } from '../core/ports/rng.js';
import type { Cluster } from './cluster/cluster.js';
import type { peerFetch } from './peer-http.js';
import type { RaftTransport } from './transport.js';

/** How long a request relayed to another server may take (a step-down waits for the transfer). */
const RELAY_TIMEOUT_MS = 15_000;

/** Answer headers a relayed answer keeps (the rest describe the connection to the other server). */
const KEPT_ANSWER_HEADERS = ['content-type', 'retry-after', 'x-konsul-error-code'];

/** What the server's chaos experiments act on and report to. */
export interface ServerChaosParts {
  readonly name: string;
  readonly cluster: Cluster;
  readonly transport: RaftTransport;
  readonly clock: Clock;
  /** Loss and jitter draws, and experiment IDs. */
  readonly rng: Rng;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Where each start and end is recorded (NO_AUDIT: nowhere). */
  readonly audit: AuditSink | undefined;
  /** Calls to the other servers' HTTP APIs (relaying requests that name them). */
  readonly peerFetch: ReturnType<typeof peerFetch>;
}

/** The chaos API of a server: its controller, and stop() to roll every experiment back. */
export interface ServerChaos extends ChaosPort {
  /** Rolls back every running experiment and refuses new ones (the server is stopping). */
  stop(): void;
}

/**
 * Builds the chaos experiments of a server started with --enable-chaos: a LinkFaults layer put
 * in the raft transport's path, a ChaosController whose effects are that layer, the Raft
 * driver's apply loop (pauseApply) and the operator's leadership transfer, with every start and
 * end audited (method CHAOS) — and relaying of requests that name another server to its HTTP
 * API (with the caller's token headers; answers keep their status, body and error headers).
 */
export function startChaos(p: ServerChaosParts): ServerChaos {
  const logger = p.logger.child({ component: 'chaos' });
  const links = new LinkFaults(p.rng);
  p.transport.attachChaos(links, p.clock);
  const audit = p.audit ?? NO_AUDIT;
  const controller = new ChaosController({
    self: p.name,
    clock: p.clock,
    rng: p.rng,
    logger,
    metrics: p.metrics,
    onEvent: (e) => audit.record(chaosAuditEvent(e, p.rng)),
    effects: {
      links,
      peers: () => {
        const conf = p.cluster.driver?.membership();
        return [...(conf?.voters ?? []), ...(conf?.learners ?? [])].filter((n) => n !== p.name);
      },
      pauseApply: (paused) => p.cluster.driver?.pauseApply(paused),
      stepDown: async () => {
        const d = p.cluster.driver;
        if (d?.role() !== 'leader') {
          const lead = d?.leader();
          throw new ConflictError(
            `step-down: ${p.name} is not the leader (${lead ? `the leader is ${lead}` : 'no leader is known'}); ` +
              'send it to the leader or name the leader in Server',
          );
        }
        if (!d.membership().voters.some((v) => v !== p.name))
          throw new ConflictError(
            `step-down: ${p.name} is the only voter; there is no server to hand the leadership to`,
          );
        await p.cluster.operator.transferLeader();
        return p.cluster.driver?.leader() ?? '';
      },
    },
  });
  logger.warn('chaos experiments enabled (--enable-chaos): operator:write tokens may inject faults');
  return {
    start: (spec, by) => controller.start(spec, by),
    list: () => controller.list(),
    stopOne: (id, by) => controller.stopOne(id, by),
    stop: () => controller.stop(),
    relay: (server, r) => relay(p, server, r),
  };
}

/** Sends `r` to `server`'s HTTP API and returns its answer (see ChaosPort.relay). */
async function relay(p: ServerChaosParts, server: string, r: RelayedChaosRequest): Promise<Response> {
  const peer = p.cluster.addressOf(server);
  if (!peer) throw new BadRequestError(`Server: no server named ${JSON.stringify(server)} in this cluster`);
  let res: Response;
  try {
    res = await p.peerFetch(peer.httpAddr, r.path, {
      method: r.method,
      headers: { ...r.headers },
      ...(r.body ? { body: r.body } : {}),
      signal: AbortSignal.timeout(RELAY_TIMEOUT_MS),
    });
  } catch (err) {
    throw new KonsulError('no_path', `No path to server ${server}: ${(err as Error).message}`);
  }
  const headers = new Headers();
  for (const name of KEPT_ANSWER_HEADERS) {
    const v = res.headers.get(name);
    if (v !== null) headers.set(name, v);
  }
  return new Response(await res.arrayBuffer(), { status: res.status, headers });
}
