import { afterAll, describe, expect, it } from 'vitest';
import { TestClusterProcesses } from '../testing/cluster-harness.js';
import { cleanupAll, until } from '../testing/process.js';
import { SseReader } from '../testing/sse.js';
import { spawnEdge } from '../testing/spawn-edge.js';

afterAll(cleanupAll);

interface Member {
  ID: string;
  Status: string;
  Link: string;
  Runtime: string;
  Arch: string;
  ReplicaIndex: number;
  LastSeen: number;
  Prefixes: string[];
}

type Member3 = TestClusterProcesses['members'][number];

const fleet = async (http: string): Promise<Member[]> => {
  const r = await fetch(`http://${http}/v1/edge/agents`);
  return r.status === 200 ? ((await r.json()) as Member[]) : [];
};

describe('the fleet table across a server failover', () => {
  it('lists HTTP and MQTT agents, keeps them when the leader dies, marks a silent one offline and back', async () => {
    const cluster = await TestClusterProcesses.start(3, ['--edge-offline-after', '3', '--mqtt-addr', '127.0.0.1:0']);
    // The agents talk to the two followers; the leader is the one that dies.
    const leader = await cluster.waitForLeader();
    const [a, b] = cluster.members.filter((m) => m !== leader) as [Member3, Member3];
    const up = `http://${a.http}`;
    await fetch(`${up}/v1/kv/cfg/a`, { method: 'PUT', body: 'one' });
    const common = ['--prefix', 'cfg/', '--announce-interval', '1'];
    const pi1Args = [...common, '--node-name', 'pi-1'];
    let pi1 = await spawnEdge({ upstream: up, args: pi1Args });
    const mqttAddr = (b.server as { mqttAddr: string }).mqttAddr;
    const pi2 = await spawnEdge({
      upstream: `http://${b.http}`,
      args: [...common, '--node-name', 'pi-2', '--sync', 'mqtt', '--mqtt-url', `mqtt://${mqttAddr}`],
    });
    const both = await until(
      'both agents online in the fleet',
      () => fleet(leader.http),
      (l) => l.filter((m) => m.Status === 'online').length === 2,
      20_000,
    );
    expect(both.map((m) => [m.ID, m.Link, m.Runtime, m.Prefixes])).toEqual([
      ['pi-1', 'http', 'node', ['cfg/']],
      ['pi-2', 'mqtt', 'node', ['cfg/']],
    ]);
    expect(both[0]?.Arch).toBe(process.arch);
    expect(both[0]?.ReplicaIndex).toBeGreaterThan(0);

    // The leader dies: the survivors still know both agents, and go on recording them.
    const before = (await fleet(a.http)).find((m) => m.ID === 'pi-1');
    await leader.server?.stop('SIGKILL');
    const survivor = a;
    await cluster.waitForLeader(20_000, [a, b]);
    await until(
      'pi-1 heard again after the failover',
      () => fleet(survivor.http),
      (l) => (l.find((m) => m.ID === 'pi-1')?.LastSeen ?? 0) > (before?.LastSeen ?? Infinity),
      20_000,
    );

    // pi-1 stops: after 3 s of silence it is offline, and the stream says so; restarted, it is back.
    const events = new SseReader(await fetch(`http://${survivor.http}/v1/watch/edge/agents`));
    await pi1.stop('SIGKILL');
    await until(
      'pi-1 offline',
      () => fleet(survivor.http),
      (l) => l.find((m) => m.ID === 'pi-1')?.Status === 'offline',
      20_000,
    );
    pi1 = await spawnEdge({ upstream: `http://${survivor.http}`, args: pi1Args, dataDir: pi1.dataDir });
    await until(
      'pi-1 back online',
      () => fleet(survivor.http),
      (l) => l.find((m) => m.ID === 'pi-1')?.Status === 'online',
      20_000,
    );
    const ops = (await events.take(2, 20_000)).map((e) => JSON.parse(e.data) as { Op: string; ID: string });
    expect(ops).toEqual([
      expect.objectContaining({ Op: 'offline', ID: 'pi-1' }),
      expect.objectContaining({ Op: 'online', ID: 'pi-1' }),
    ]);
    expect((await fleet(survivor.http)).find((m) => m.ID === 'pi-2')?.Status).toBe('online');
    await events.close();
    await pi1.stop();
    await pi2.stop();
    await cluster.stopAll();
  }, 120_000);
});
