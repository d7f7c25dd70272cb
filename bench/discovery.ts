/**
 * Service discovery at scale: registers 100,000 instances of 1,000 services (10 per node on
 * 10,000 nodes) through /v1/catalog/register, then measures health queries and DNS A and SRV
 * queries (p50/p99; wrk and dnsperf ask, so the client is not what limits; health twice: right
 * after the registrations and once the DNS phases are over), the server's memory
 * (anonymous — the JS heap and native allocations — apart from file-backed pages, which are
 * LMDB's map), and a restart: the time to serve again and to load the catalog into memory.
 * Every tenth instance has a critical check, and they all belong to every tenth service: those
 * services have no passing instance (an empty health answer; NXDOMAIN in DNS, as Consul answers).
 *
 *   npm run bench:discovery -- [--services 1000] [--per-service 100] [--duration 5] [--clients 64]
 *     [--profile DIR]
 *
 * --profile writes a V8 CPU profile of the server into DIR when it stops (one before the restart,
 * one after); the bench prints the seconds since the server started at which each phase began, so a
 * phase can be cut out of the profile.
 */
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import * as dnsPacket from 'dns-packet';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';
import { instanceRegistration } from './catalog-load.js';
import { statusMb } from './proc-memory.js';
import { jsonRequest, sendAll } from './raw-http.js';
import { dnsperfPhase, wrkPhase } from './load-tools.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '1000' },
    'per-service': { type: 'string', default: '100' },
    duration: { type: 'string', default: '5' },
    clients: { type: 'string', default: '64' },
    profile: { type: 'string' },
  },
});
const SERVICES = Number(values.services);
const PER = Number(values['per-service']);
const durationMs = Number(values.duration) * 1000;
const CLIENTS = Number(values.clients);
const TOTAL = SERVICES * PER;
const NODES = TOTAL / 10;

const rssMb = (pid: number) => statusMb(pid, 'VmRSS');
const memory = async (s: { proc: { pid?: number }; url: string }) => {
  const pid = s.proc.pid as number;
  const metrics = await (await fetch(`${s.url}/v1/agent/metrics?format=prometheus`)).text();
  const heap = Number(/^konsul_process_heap_used_bytes (\S+)$/m.exec(metrics)?.[1] ?? NaN) / 2 ** 20;
  return (
    `RSS ${rssMb(pid).toFixed(0)} MB (anonymous ${statusMb(pid, 'RssAnon').toFixed(0)} MB, ` +
    `file-backed ${statusMb(pid, 'RssFile').toFixed(0)} MB); JS heap in use ${heap.toFixed(0)} MB`
  );
};
const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;

const serverOptions = values.profile ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] } : {};
let server = await spawnServer(serverOptions);
const started = performance.now();
/** Prints when a phase begins, in seconds since the server started, when profiling. */
const mark = (phase: string): void => {
  if (values.profile) console.log(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${phase}`);
};
try {
  const target = `${server.host}:${server.port}`;
  const pid = server.proc.pid as number;
  console.log(
    `registering ${TOTAL} instances of ${SERVICES} services on ${NODES} nodes ` +
      `(RSS before: ${rssMb(pid).toFixed(0)} MB)`,
  );
  // One instance in ten has a critical check. The client writes prepared requests on raw
  // keep-alive sockets: node:http's client spent about 110 µs of CPU per request on the two cores
  // the server shares with it (see raw-http.ts).
  mark('registration');
  const reg = await sendAll(server.host, server.port, TOTAL, CLIENTS, (i) =>
    jsonRequest('PUT', '/v1/catalog/register', target, instanceRegistration(i, SERVICES, 10)),
  );
  if (reg.statuses.get(200) !== TOTAL) throw new Error(`registration answers: ${JSON.stringify([...reg.statuses])}`);
  console.log(
    `registration: ${TOTAL} instances in ${reg.seconds.toFixed(1)} s = ` +
      `${(TOTAL / reg.seconds).toFixed(0)} registrations/s (${CLIENTS} concurrent clients; ` +
      `p50 ${reg.p50.toFixed(1)} ms, p99 ${reg.p99.toFixed(1)} ms)`,
  );
  console.log(`server memory after registration: ${await memory(server)}`);

  // The first query of each service joins and renders its entries; later ones reuse them until
  // the service changes. Timed apart, one service at a time.
  mark('first health query of each service');
  const cold: number[] = [];
  for (let n = 0; n < SERVICES; n++) {
    const t = performance.now();
    const res = await fetch(`${server.url}/v1/health/service/svc-${n}?passing`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`health svc-${n}: ${res.status}`);
    cold.push(performance.now() - t);
  }
  cold.sort((a, b) => a - b);
  console.log(
    `first health query of each service (one client): p50 ${pct(cold, 50).toFixed(2)} ms, ` +
      `p99 ${pct(cold, 99).toFixed(2)} ms`,
  );

  const paths = Array.from({ length: SERVICES }, (_, n) => `/v1/health/service/svc-${(n * 37) % SERVICES}?passing`);
  const healthPhase = async (when: string) => {
    mark(`health query ${when}`);
    const health = await wrkPhase(server.url, paths, { connections: 16, seconds: durationMs / 1000 });
    console.log(
      `health query ${when} (/v1/health/service/<name>?passing, ${PER} instances each, 16 connections, wrk): ` +
        `${health.perSec.toFixed(0)} q/s, p50 ${health.p50.toFixed(2)} ms, p99 ${health.p99.toFixed(2)} ms, ` +
        `errors ${health.errors}`,
    );
  };
  // Right after the burst the server is still busy with it (the compaction snapshot of the whole
  // catalog the last registrations trigger, a full garbage collection): measured then, and again
  // once the DNS phases are over.
  await healthPhase('right after registration');

  for (const type of ['A', 'SRV'] as const) {
    mark(`DNS ${type}`);
    const questions = Array.from({ length: SERVICES }, (_, n) => `svc-${(n * 53) % SERVICES}.service.consul ${type}`);
    const d = await dnsperfPhase(server.dnsAddr, questions, { inFlight: 16, seconds: durationMs / 1000 });
    const answers = await answerCount(server.dnsAddr, 'svc-1.service.consul', type);
    console.log(
      `DNS ${type} query (<name>.service.consul over UDP with EDNS0, 16 in flight, dnsperf): ` +
        `${d.perSec.toFixed(0)} q/s, ` +
        `p50 ${d.p50.toFixed(2)} ms, p99 ${d.p99.toFixed(2)} ms, ${answers} answers in one, ${d.errors} lost, ` +
        `response codes ${JSON.stringify(d.rcodes)}`,
    );
  }
  await healthPhase('after the DNS phases');
  console.log(`server memory at the end: ${await memory(server)}`);

  // A restart rebuilds the in-memory catalog from LMDB.
  const dataDir = server.dataDir;
  await server.stop();
  const t1 = performance.now();
  server = await spawnServer({ ...serverOptions, dataDir, timeoutMs: 120_000 });
  const readyMs = performance.now() - t1;
  const loaded = /"@message":"catalog loaded into memory"[^\n]*"ms":(\d+)/.exec(server.output())?.[1];
  console.log(
    `restart with ${TOTAL} instances: serving after ${readyMs.toFixed(0)} ms; catalog loaded into memory in ` +
      `${loaded ?? '?'} ms; ${await memory(server)}`,
  );
} finally {
  await server.stop();
  await cleanupAll();
}

/** How many answer records one UDP query (EDNS0, 4,096 bytes) for `name` `type` gets. */
async function answerCount(addr: string, name: string, type: 'A' | 'SRV'): Promise<number> {
  const [host, portText] = addr.split(':');
  const sock = dgram.createSocket('udp4');
  try {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no DNS answer for ${name} ${type}`)), 5000);
      sock.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      sock.send(
        dnsPacket.encode({
          id: 1,
          type: 'query',
          flags: dnsPacket.RECURSION_DESIRED,
          questions: [{ type, name }],
          additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096 } as dnsPacket.Answer],
        }),
        Number(portText),
        host,
      );
    });
    return dnsPacket.decode(reply).answers?.length ?? 0;
  } finally {
    sock.close();
  }
}
