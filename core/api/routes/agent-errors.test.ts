import { describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../testing/harness.js';

const put = (n: TestNode, path: string, body?: unknown) =>
  n.request(path, { method: 'PUT', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

/** Status and text of an answer (the text without its trailing newline). */
async function answer(r: Response | Promise<Response>): Promise<[number, string]> {
  const res = await r;
  return [res.status, (await res.text()).trimEnd()];
}

// Consul's answers are from agent/agent_endpoint.go and agent/acl.go (vetServiceUpdateWithAuthorizer,
// vetCheckUpdateWithAuthorizer) and agent.updateTTLCheck.
describe('agent endpoints answer unknown ids and wrong checks as Consul does', () => {
  it("unknown service and check ids are 404 with Consul's hint to pass the ID, not the name", async () => {
    const n = createTestNode();
    const service = 'Unknown service ID "ghost". Ensure that the service ID is passed, not the service name.';
    expect(await answer(put(n, '/v1/agent/service/deregister/ghost'))).toEqual([404, service]);
    expect(await answer(put(n, '/v1/agent/service/maintenance/ghost?enable=true'))).toEqual([404, service]);
    const check = 'Unknown check ID "ghost". Ensure that the check ID is passed, not the check name.';
    for (const path of [
      '/v1/agent/check/deregister/ghost',
      '/v1/agent/check/pass/ghost',
      '/v1/agent/check/warn/ghost',
      '/v1/agent/check/fail/ghost',
    ])
      expect(await answer(put(n, path)), path).toEqual([404, check]);
    expect(await answer(put(n, '/v1/agent/check/update/ghost', { Status: 'passing' }))).toEqual([404, check]);
    expect(await answer(n.request('/v1/agent/service/ghost'))).toEqual([404, 'unknown service ID: ghost']);
  });

  it('a check for an unknown service is 404; updating a check without a TTL is 500', async () => {
    const n = createTestNode();
    expect(await answer(put(n, '/v1/agent/check/register', { Name: 'c', TTL: '10s', ServiceID: 'ghost' }))).toEqual([
      404,
      'ServiceID "ghost" does not exist',
    ]);
    expect((await n.request('/v1/agent/checks').then((r) => r.json())) as object).not.toHaveProperty('c');
    const reg = await put(n, '/v1/agent/check/register', { Name: 'probe', TCP: '127.0.0.1:1', Interval: '10s' });
    expect(reg.status).toBe(200);
    const r = await put(n, '/v1/agent/check/pass/probe');
    expect(await answer(r)).toEqual([500, 'CheckID "probe" does not have associated TTL']);
    // A deliberate 500, marked as such (not an internal fault).
    expect((await put(n, '/v1/agent/check/pass/probe')).headers.get('X-Konsul-Error-Code')).toBe('refused');
  });

  it("reads maintenance's enable as a Go bool and names a bad check status as Consul does", async () => {
    const n = createTestNode();
    expect((await put(n, '/v1/agent/service/register', { ID: 'w1', Name: 'w', Check: { TTL: '30s' } })).status).toBe(
      200,
    );
    expect(await answer(put(n, '/v1/agent/service/maintenance/w1'))).toEqual([400, 'Missing value for enable']);
    expect(await answer(put(n, '/v1/agent/service/maintenance/w1?enable=yes'))).toEqual([
      400,
      'Invalid value for enable: "yes"',
    ]);
    const inMaintenance = async () =>
      Object.keys((await (await n.request('/v1/agent/checks')).json()) as object).includes('_service_maintenance:w1');
    expect((await put(n, '/v1/agent/service/maintenance/w1?enable=1')).status).toBe(200);
    expect(await inMaintenance()).toBe(true);
    expect((await put(n, '/v1/agent/service/maintenance/w1?enable=F')).status).toBe(200);
    expect(await inMaintenance()).toBe(false);
    expect(await answer(put(n, '/v1/agent/check/update/service:w1', { Status: 'ok' }))).toEqual([
      400,
      "Invalid check status: 'ok'",
    ]);
  });
});
