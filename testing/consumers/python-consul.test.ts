// python-consul 0.7.1 (Debian's python3-consul, the client Patroni is built on) run by the system
// Python against a FOLLOWER of a 3-server Konsul cluster with default settings. The probe script
// (python_consul_probe.py) makes every call once and reports each result or error; the cases
// below hold those results to what Consul answers.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Member, TestClusterProcesses } from '../cluster-harness.js';
import { cleanupAll, until } from '../process.js';

const PYTHON = '/usr/bin/python3';
const PROBE = resolve(import.meta.dirname, 'python_consul_probe.py');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** One call's outcome as the probe reports it. */
type Step = { ok: true; value: unknown } | { ok: false; error: string };

/** Runs the probe with `args` after HOST PORT and parses the JSON it prints. */
function runProbe<T>(http: string, ...args: string[]): Promise<T> {
  const [host, port] = http.split(':') as [string, string];
  return new Promise((done, fail) => {
    execFile(
      PYTHON,
      [PROBE, host, port, ...args],
      {
        env: { ...process.env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' },
        timeout: 180_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err) return fail(new Error(`python-consul probe failed: ${err.message}\n${stderr}`));
        try {
          done(JSON.parse(stdout) as T);
        } catch {
          fail(new Error(`python-consul probe printed no JSON:\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

describe('python-consul 0.7.1 against a follower of a 3-server Konsul cluster', () => {
  let cluster: TestClusterProcesses | undefined;
  let follower: Member;
  let leader: Member;
  let results: Record<string, Step> = {};

  /** The value of a step that must have succeeded (fails naming the error otherwise). */
  const value = <T = unknown>(name: string): T => {
    const step = results[name];
    expect(step, `step ${name} did not run`).toBeDefined();
    if (!step?.ok) expect.fail(`${name}: ${step?.error}`);
    return step.value as T;
  };

  beforeAll(async () => {
    cluster = await TestClusterProcesses.start(3, [], { defaults: true });
    leader = await cluster.waitForLeader();
    follower = cluster.members.find((m) => m !== leader) as Member;
    // The leader puts the consul service on each server's node once that server's agent has
    // registered the node, as Consul's leader does when it reconciles members: wait for all three.
    await until(
      'every server listed as the consul service',
      async () => (await (await fetch(`http://${leader.http}/v1/catalog/service/consul`)).json()) as unknown[],
      (list) => list.length === 3,
      30_000,
    );
    results = await runProbe<Record<string, Step>>(follower.http);
    const raised = Object.entries(results).flatMap(([n, s]) => (s.ok ? [] : [`${n} (${s.error.trim()})`]));
    console.log(
      `[python-consul] ${Object.keys(results).length} calls through follower ${follower.name} ` +
        `(leader ${leader.name}); raised: ${raised.join('; ') || 'none'}`,
    );
  }, 240_000);

  afterAll(async () => {
    await cluster?.stopAll();
    await cleanupAll();
  });

  it('runs the Debian python-consul 0.7.1', () => {
    expect(value('module_version')).toBe('0.7.1');
    // No /v1/txn API in this version, so transactions are not exercised through it.
    console.log(`[python-consul] txn API present: ${String(value('txn_api_present'))}`);
  });

  it('KV: put and get with flags, cas, recurse, keys with a separator, consistency modes, recursive delete', () => {
    expect(value('kv_put_flags')).toBe(true);
    expect(value('kv_get')).toMatchObject({ Key: 'consumers/a', Value: 'v1', Flags: 42, LockIndex: 0 });
    expect(value('kv_put_cas0_existing')).toBe(false);
    expect(value('kv_put_cas0_new')).toBe(true);
    expect(value('kv_put_cas_stale')).toBe(false);
    expect(value('kv_put_cas_current')).toBe(true);
    expect(value('kv_get_after_cas')).toMatchObject({ Value: 'v2', Flags: 0 });
    expect(value('kv_put_tree')).toEqual([true, true]);
    expect(value('kv_recurse')).toEqual(['consumers/a', 'consumers/dir/x', 'consumers/dir/y/z', 'consumers/new']);
    expect(value('kv_keys_separator')).toEqual(['consumers/a', 'consumers/dir/', 'consumers/new']);
    const [index, missing] = value<[string, unknown]>('kv_get_missing');
    expect(Number(index)).toBeGreaterThan(0);
    expect(missing).toBeNull();
    expect(value('kv_get_consistent')).toBe('v2');
    expect(value('kv_get_stale')).toBe('v2');
    expect(value('kv_delete_recurse')).toBe(true);
    expect(value('kv_recurse_after_delete')).toBeNull();
  });

  it('sessions: create with TTL and behavior, info, renew, list, destroy; renewing a destroyed one is 404', () => {
    const s1 = value<string>('session_create');
    const s2 = value<string>('session_create_second');
    expect(s1).toMatch(UUID);
    expect(s2).toMatch(UUID);
    expect(value('session_info')).toMatchObject({ ID: s1, Name: 'probe-1', TTL: '10s', Behavior: 'release' });
    expect(value('session_renew')).toMatchObject({ ID: s1, TTL: '10s' });
    expect(value<string[]>('session_list_ids')).toEqual(expect.arrayContaining([s1, s2]));
    expect(value('session_destroy')).toEqual([true, true]);
    expect(value('session_info_destroyed')).toBeNull();
    const renew = results['session_renew_destroyed'];
    expect(renew?.ok).toBe(false);
    expect(!renew?.ok && renew?.error).toMatch(/^NotFound: /);
  });

  it("a session created through a follower belongs to that follower's node, as Consul names it", () => {
    // Consul fills Node with the name of the agent that received the request.
    expect(value<{ Node: string }>('session_info').Node).toBe(follower.name);
  });

  it('locks: acquire, a second session refused, release only by the holder, behavior=delete on destroy', () => {
    const s1 = value<string>('session_create');
    expect(value('lock_acquire')).toBe(true);
    expect(value('lock_held')).toMatchObject({ Value: 'holder-1', Session: s1, LockIndex: 1 });
    expect(value('lock_acquire_contended')).toBe(false);
    expect(value('lock_release_by_other')).toBe(false);
    expect(value('lock_release')).toBe(true);
    const released = value<Record<string, unknown>>('lock_after_release');
    expect(released).toMatchObject({ Value: 'released', LockIndex: 1 });
    expect(released).not.toHaveProperty('Session');
    expect(value('lock_acquire_second')).toBe(true);
    expect(value('ephemeral_after_destroy')).toBeNull();
  });

  it('catalog: register with a check, services, service by name and tag, nodes, node, deregister', () => {
    expect(value('catalog_register')).toBe(true);
    expect(value('catalog_services')).toMatchObject({ legacy: ['v1'] });
    expect(value('catalog_service')).toEqual([
      expect.objectContaining({ Node: 'consumers-ext', Address: '10.1.2.3', ServiceID: 'legacy1', ServicePort: 8080 }),
    ]);
    expect(value('catalog_service_tag')).toEqual(['legacy1']);
    expect(value('catalog_nodes')).toEqual(['consumers-ext', 'n1', 'n2', 'n3']);
    expect(value('catalog_node')).toMatchObject({
      Node: { Node: 'consumers-ext' },
      Services: { legacy1: { Port: 8080 } },
    });
    expect(value('health_service_passing')).toEqual([
      expect.objectContaining({ Checks: [expect.objectContaining({ CheckID: 'service:legacy1', Status: 'passing' })] }),
    ]);
    expect(value('catalog_deregister')).toBe(true);
    expect(value('catalog_nodes_after_deregister')).toEqual(['n1', 'n2', 'n3']);
  });

  it('catalog lists every server as the "consul" service, as Consul does', () => {
    expect(Object.keys(value<Record<string, string[]>>('catalog_services'))).toContain('consul');
  });

  it('agent service with a TTL check: critical until passed, then passing, gone after deregistration', () => {
    expect(value('agent_service_register')).toBe(true);
    expect(value('agent_services')).toMatchObject({ api1: { Service: 'api', Port: 9000, Tags: ['t'] } });
    expect(value('agent_checks')).toMatchObject({ 'service:api1': { Status: 'critical', Type: 'ttl' } });
    const synced = value<{ value: Record<string, string>[]; seconds: number }>('health_api_synced');
    expect(synced.value).toEqual([expect.objectContaining({ 'service:api1': 'critical' })]);
    expect(value('health_api_passing_before_ttl')).toEqual([]);
    expect(value('health_state_critical')).toContain('service:api1');
    expect(value('raw_put_check_pass')).toMatchObject({ status: 200 });
    expect(value<{ value: string[] }>('health_api_passing_after_ttl').value).toEqual(['api1']);
    expect(value('raw_put_service_deregister')).toMatchObject({ status: 200 });
    expect(value('agent_services_after_deregister')).toEqual([]);
    expect(value<{ value: unknown[] }>('health_api_after_deregister').value).toEqual([]);
    console.log(`[python-consul] agent service reached the health endpoint after ${synced.seconds} s`);
  });

  it('the GETs python-consul 0.7.1 sends to pass a check and deregister a service get 405, as from Consul', () => {
    // Consul registers /v1/agent/check/pass/ and /v1/agent/service/deregister/ for PUT only, so
    // python-consul's GET-based ttl_pass() and deregister() report false against Consul as well.
    expect(value('agent_check_ttl_pass')).toBe(false);
    expect(value('agent_service_deregister')).toBe(false);
    expect(value('raw_get_check_pass'), 'GET /v1/agent/check/pass/service:api1').toMatchObject({ status: 405 });
    // Consul's mux picks the longest registered prefix, /v1/agent/service/deregister/ (PUT only),
    // not /v1/agent/service/ (GET, one service by ID).
    expect(value('raw_get_service_deregister'), 'GET /v1/agent/service/deregister/api1').toMatchObject({
      status: 405,
    });
  });

  it('blocking queries (index and wait) on KV and health return early with the write that woke them', () => {
    type Woken = { index_before: string; index_after: string; data: unknown; seconds: number };
    const kv = value<Woken>('blocking_kv');
    expect(Number(kv.index_after)).toBeGreaterThan(Number(kv.index_before));
    expect(kv.data).toMatchObject({ Key: 'consumers/watch', Value: 'woken' });
    const health = value<Woken>('blocking_health');
    expect(Number(health.index_after)).toBeGreaterThan(Number(health.index_before));
    expect(health.data).toEqual([expect.objectContaining({ Service: expect.objectContaining({ ID: 'blocky1' }) })]);
    console.log(`[python-consul] blocking queries woken after ${kv.seconds} s (KV), ${health.seconds} s (health)`);
  });

  it('status, agent self, members, datacenters, events and the Raft configuration', () => {
    const all = cluster?.members ?? [];
    expect(value('status_leader')).toBe(leader.raft);
    expect(value('status_peers')).toEqual(all.map((m) => m.raft).sort());
    expect(value('agent_self_config')).toMatchObject({ NodeName: follower.name, Datacenter: 'dc1', Server: true });
    expect(value('agent_members')).toEqual(['n1', 'n2', 'n3']);
    expect(value('catalog_datacenters')).toEqual(['dc1']);
    expect(value('event_fire')).toBe('consumers-deploy');
    expect(value('event_list')).toEqual([['consumers-deploy', 'payload-1']]);
    expect(value('operator_raft_config')).toEqual(['n1', 'n2', 'n3']);
  });

  // Last: it kills the leader.
  it('a session created through a follower outlives a kill -9 of the Raft leader (whose node fails)', async () => {
    const c = cluster as TestClusterProcesses;
    const { id } = await runProbe<{ id: string }>(follower.http, 'session-create', 'probe-survivor');
    expect(id).toMatch(UUID);
    const before = await runProbe<{ session: { Node: string; NodeChecks?: string[] } | null }>(
      follower.http,
      'session-info',
      id,
    );
    expect(before.session).not.toBeNull();
    await leader.server?.stop('SIGKILL');
    const survivors = c.members.filter((m) => m !== leader);
    const newLeader = await c.waitForLeader(20_000, survivors);
    // Consul marks a failed node's serfHealth critical, which invalidates that node's sessions; a
    // session created through the follower belongs to the follower and must not be touched.
    await until(
      `serfHealth of ${leader.name} critical on ${follower.name}`,
      async () => {
        const res = await fetch(`http://${follower.http}/v1/health/node/${leader.name}`);
        return (await res.json()) as { CheckID: string; Status: string }[];
      },
      (checks) => checks.some((ch) => ch.CheckID === 'serfHealth' && ch.Status === 'critical'),
      60_000,
    );
    const after = await runProbe<{ session: { Node: string } | null }>(follower.http, 'session-info', id);
    console.log(
      `[python-consul] session ${id} (Node ${before.session?.Node}, NodeChecks ` +
        `${JSON.stringify(before.session?.NodeChecks)}) after ${leader.name} was killed and ${newLeader.name} ` +
        `marked it critical: ${after.session ? 'alive' : 'destroyed'}`,
    );
    expect(after.session, 'the session, after the leader node failed').not.toBeNull();
  });
});
