// A real consumer of Konsul's DNS: HAProxy (Debian's haproxy package) filling `server-template`
// slots from an SRV query through its `resolvers` section. HAProxy pairs each SRV record with one
// record of the additional section, so this shows that several instances on one node each get a
// slot, both when they have their own service address (`<hex>.addr.` targets) and when they fall
// back to the node's address, and that a deregistered instance stops receiving traffic.
import { existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts, startProcess, type TestProcess, until } from '../process.js';
import { cleanupAll, spawnServer, tempDir, type SpawnedServer } from '../spawn-server.js';

const HAPROXY = '/usr/sbin/haproxy';
/** HAProxy resolver settings (seconds): how often it asks, and how long it keeps a vanished record. */
const RESOLVE_EVERY_S = 1;
const HOLD_OBSOLETE_S = 0;
/** How long a removed instance may still get traffic: a resolution, the hold time, and a wide margin. */
const REMOVAL_BOUND_MS = (RESOLVE_EVERY_S + HOLD_OBSOLETE_S) * 1000 + 15_000;
/** Consecutive requests that must miss the removed instance before it counts as gone. */
const CLEAN_RUN = 30;

let konsul: SpawnedServer;
let dnsPort: number;
const closers: Array<() => Promise<unknown>> = [];

/** A tiny HTTP backend that answers its own id, and counts the requests it served. */
interface Backend {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  hits: number;
}

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function startBackend(id: string, host: string, port = 0): Promise<Backend> {
  const backend: Backend = { id, host, port: 0, hits: 0 };
  const server = http.createServer((_req, res) => {
    backend.hits++;
    res.end(id);
  });
  await listen(server, host, port);
  closers.push(
    () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  );
  return Object.assign(backend, { port: (server.address() as net.AddressInfo).port });
}

/** Three backends on 127.0.0.2-4 listening on the same port, so only the address tells them apart. */
async function backendsOnOnePort(prefix: string): Promise<Backend[]> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = await startBackend(`${prefix}-1`, '127.0.0.2');
    try {
      return [
        first,
        await startBackend(`${prefix}-2`, '127.0.0.3', first.port),
        await startBackend(`${prefix}-3`, '127.0.0.4', first.port),
      ];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  throw new Error('no port was free on 127.0.0.2, 127.0.0.3 and 127.0.0.4 at once');
}

async function konsulPut(path: string, body?: object): Promise<void> {
  const res = await fetch(`${konsul.url}${path}`, {
    method: 'PUT',
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
}

/** Sends one command to HAProxy's stats socket and returns its answer. */
function haproxyCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const c = net.connect(socket, () => c.end(`${command}\n`));
    c.on('data', (d: Buffer) => (out += d.toString()));
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
}

interface Proxy {
  readonly url: string;
  readonly socket: string;
  readonly proc: TestProcess;
}

/** Runs `haproxy -db` with a resolvers section on Konsul's DNS and `slots` servers from `srvName`. */
async function startHaproxy(srvName: string, slots: number): Promise<Proxy> {
  const dir = tempDir('konsul-haproxy-');
  const [frontendPort] = await freePorts(1);
  const socket = join(dir, 'admin.sock');
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    `global
    stats socket ${socket} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

resolvers konsul
    nameserver konsul 127.0.0.1:${dnsPort}
    accepted_payload_size 8192
    resolve_retries 3
    timeout resolve ${RESOLVE_EVERY_S}s
    timeout retry 1s
    hold valid 1s
    hold obsolete ${HOLD_OBSOLETE_S}s
    hold nx 1s
    hold other 1s
    hold refused 1s
    hold timeout 1s

frontend fe
    bind 127.0.0.1:${frontendPort}
    default_backend be

backend be
    balance roundrobin
    server-template slot ${slots} ${srvName} resolvers konsul resolve-prefer ipv4 init-addr none
`,
  );
  // HAProxy prints nothing when it is up; readiness is its frontend accepting connections below.
  const proc = await startProcess(HAPROXY, ['-db', '-f', config], { ready: /^/, what: 'haproxy' });
  closers.push(() => proc.stop('SIGKILL'));
  const url = `http://127.0.0.1:${frontendPort}/`;
  await until(
    'haproxy to accept connections',
    async () => {
      if (proc.proc.exitCode !== null) throw new Error(`haproxy exited:\n${proc.output()}`);
      return (await fetch(url)).status;
    },
    () => true,
    15_000,
  );
  return { url, socket, proc };
}

/** One request through HAProxy: the backend's id, or `<status>` when HAProxy had none to send it to. */
async function through(proxy: Proxy): Promise<string> {
  const res = await fetch(proxy.url);
  const body = await res.text();
  return res.status === 200 ? body : `<${res.status}>`;
}

async function slotsState(proxy: Proxy): Promise<string> {
  return haproxyCommand(proxy.socket, 'show servers state be').catch((e: unknown) => String(e));
}

/** Polls until requests through HAProxy have reached every backend in `ids`; returns the ids seen. */
async function reachAll(proxy: Proxy, ids: readonly string[], timeoutMs: number): Promise<Set<string>> {
  const seen = new Set<string>();
  try {
    await until(
      `requests through haproxy to reach ${ids.join(', ')}`,
      async () => {
        for (let i = 0; i < 3 * ids.length; i++) seen.add(await through(proxy));
        return [...seen];
      },
      () => ids.every((id) => seen.has(id)),
      timeoutMs,
    );
  } catch (err) {
    const detail = `slots:\n${await slotsState(proxy)}\nhaproxy:\n${proxy.proc.output()}`;
    throw new Error(`${(err as Error).message}\n${detail}`, { cause: err });
  }
  return seen;
}

/**
 * After `removed` was deregistered at `since`: polls until CLEAN_RUN requests in a row missed it
 * and reached every backend in `kept`, within REMOVAL_BOUND_MS. Returns how long after `since`
 * the removed backend answered last (0 if never).
 */
async function waitRemoved(
  proxy: Proxy,
  removed: Backend,
  kept: readonly Backend[],
  since: number,
): Promise<{ lastHitAfterMs: number; cleanAfterMs: number; tail: string[] }> {
  let lastHit = since;
  let run: string[] = [];
  const deadline = since + REMOVAL_BOUND_MS;
  for (;;) {
    const id = await through(proxy);
    if (id === removed.id) {
      lastHit = Date.now();
      run = [];
    } else {
      run.push(id);
    }
    if (run.length >= CLEAN_RUN && kept.every((b) => run.includes(b.id)))
      return { lastHitAfterMs: lastHit - since, cleanAfterMs: Date.now() - since, tail: run };
    if (Date.now() > deadline)
      throw new Error(
        `${removed.id} still got requests ${REMOVAL_BOUND_MS} ms after it was deregistered ` +
          `(last ${Date.now() - lastHit} ms ago; recent: ${run.slice(-10).join(' ')})\nslots:\n` +
          (await slotsState(proxy)),
      );
  }
}

beforeAll(async () => {
  if (!existsSync(HAPROXY))
    throw new Error(
      `${HAPROXY} is missing: this test needs HAProxy from the Debian package "haproxy" ` +
        '(apt-get install -y --no-install-recommends haproxy)',
    );
  konsul = await spawnServer();
  dnsPort = Number(konsul.dnsAddr.slice(konsul.dnsAddr.lastIndexOf(':') + 1));
}, 60_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await konsul?.stop();
  await cleanupAll();
});

describe('HAProxy server-template over Konsul DNS SRV', () => {
  /**
   * Through HAProxy over `srv`: every backend is reached; after `deregister` removes `removed`,
   * HAProxy stops sending to it within the bound and the others keep their traffic. Prints the times.
   */
  async function balancesAndDrops(
    label: string,
    srv: string,
    backends: Backend[],
    removed: Backend,
    deregister: () => Promise<void>,
  ): Promise<void> {
    const kept = backends.filter((b) => b !== removed);
    const proxy = await startHaproxy(srv, 4);
    const t0 = Date.now();
    const seen = await reachAll(
      proxy,
      backends.map((b) => b.id),
      30_000,
    );
    const reachedMs = Date.now() - t0;
    const since = Date.now();
    await deregister();
    const gone = await waitRemoved(proxy, removed, kept, since);
    const hitsAtGone = removed.hits;
    // More requests reach only the ones that are left, and none reaches the removed one.
    const after = new Set<string>();
    for (let i = 0; i < 12; i++) after.add(await through(proxy));
    expect([...after].sort()).toEqual(kept.map((b) => b.id).sort());
    expect(removed.hits).toBe(hitsAtGone);
    console.log(
      `haproxy (${label}): reached ${[...seen].filter((s) => !s.startsWith('<')).length}/3 backends ` +
        `${reachedMs} ms after start; ${removed.id} answered last ${gone.lastHitAfterMs} ms after ` +
        `deregistration, ${CLEAN_RUN} requests in a row missed it by ${gone.cleanAfterMs} ms ` +
        `(bound ${REMOVAL_BOUND_MS} ms); hits ${backends.map((b) => `${b.id}=${b.hits}`).join(' ')}`,
    );
  }

  it('fills a slot per instance when three instances on one node have their own addresses', async () => {
    const backends = await backendsOnOnePort('addr');
    for (const b of backends)
      await konsulPut('/v1/catalog/register', {
        Node: 'haproxy-host',
        Address: '127.0.0.1',
        Service: { ID: b.id, Service: 'web', Port: b.port, Address: b.host },
      });
    const removed = backends[0] as Backend;
    await balancesAndDrops('.addr. targets', '_web._tcp.service.consul', backends, removed, () =>
      konsulPut('/v1/catalog/deregister', { Node: 'haproxy-host', ServiceID: removed.id }),
    );
  }, 90_000);

  it('fills a slot per instance when three instances fall back to their node address', async () => {
    const backends = await Promise.all([1, 2, 3].map((i) => startBackend(`node-${i}`, '127.0.0.1')));
    // Agent registrations without an Address: the instances live on the server's own node, whose
    // address is 127.0.0.1 (its raft address), so the SRV targets are all <node>.node.dc1.consul.
    for (const b of backends) await konsulPut('/v1/agent/service/register', { ID: b.id, Name: 'api', Port: b.port });
    const removed = backends[1] as Backend;
    await balancesAndDrops('node targets', '_api._tcp.service.consul', backends, removed, () =>
      konsulPut(`/v1/agent/service/deregister/${removed.id}`),
    );
  }, 90_000);
});
