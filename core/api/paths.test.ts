import { describe, expect, it } from 'vitest';
import { createTestNode } from '../../testing/harness.js';
import { cleanPath } from './paths.js';

const put = (body?: unknown): RequestInit => ({
  method: 'PUT',
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

describe('request paths as Consul (Go net/http) routes them', () => {
  it('cleans paths as Go does', () => {
    expect(cleanPath('/v1/kv//app/x')).toBe('/v1/kv/app/x');
    expect(cleanPath('//v1///kv/')).toBe('/v1/kv/');
    expect(cleanPath('/v1/kv/a/./b/../c')).toBe('/v1/kv/a/c');
    expect(cleanPath('/v1/kv/a/..')).toBe('/v1/kv');
    expect(cleanPath('/../..')).toBe('/');
    expect(cleanPath('/v1/kv/.hidden')).toBe('/v1/kv/.hidden');
    expect(cleanPath('')).toBe('/');
  });

  it('answers an unclean path with a 301 to the clean one, keeping the query', async () => {
    const n = createTestNode();
    expect((await n.request('/v1/kv/app/x', { method: 'PUT', body: 'v' })).status).toBe(200);
    const r = await n.request('/v1/kv//app/x?raw');
    expect(r.status).toBe(301);
    expect(r.headers.get('location')).toBe('/v1/kv/app/x?raw');
    const followed = await n.request(r.headers.get('location')!);
    expect(await followed.text()).toBe('v');
    expect((await n.request('/v1//status/leader')).headers.get('location')).toBe('/v1/status/leader');
    // A clean path with a dot in a key is served, not redirected.
    expect((await n.request('/v1/kv/.hidden', { method: 'PUT', body: 'h' })).status).toBe(200);
  });

  it('answers 405 with Allow for a method a route does not take, 404 for a path no route takes', async () => {
    const n = createTestNode();
    const create = await n.request('/v1/session/create');
    expect(create.status).toBe(405);
    expect(create.headers.get('allow')).toBe('PUT');
    expect(await create.text()).toBe('method GET not allowed\n');
    const leader = await n.request('/v1/status/leader', { method: 'DELETE' });
    expect(leader.status).toBe(405);
    expect(leader.headers.get('allow')).toBe('GET');
    const kv = await n.request('/v1/kv/a', { method: 'POST' });
    expect(kv.status).toBe(405);
    expect(kv.headers.get('allow')).toBe('GET, PUT, DELETE');
    expect((await n.request('/v1/agent/check/pass/x')).status).toBe(405);
    // The most specific pattern decides, whatever the method (Go's ServeMux takes the longest
    // prefix): these are the PUT-only deregister and register routes and the GET-only token/self,
    // not the service "deregister/web1", the service "register" and the token "self".
    for (const [method, path, allow] of [
      ['GET', '/v1/agent/service/deregister/web1', 'PUT'],
      ['GET', '/v1/agent/service/register', 'PUT'],
      ['PUT', '/v1/acl/token/self', 'GET'],
    ] as const) {
      const r = await n.request(path, { method });
      expect([r.status, r.headers.get('allow')], `${method} ${path}`).toEqual([405, allow]);
    }
    expect((await n.request('/v1/nowhere')).status).toBe(404);
    expect((await n.request('/v1/catalog/service/web/extra')).status).toBe(404);
  });

  it('takes service and check IDs that hold "/" on every agent route that names one', async () => {
    const n = createTestNode();
    const id = 'pg/pg1';
    const register = put({ ID: id, Name: 'pg', Port: 5432, Check: { CheckID: `${id}/ttl`, TTL: '30s' } });
    expect((await n.request('/v1/agent/service/register', register)).status).toBe(200);
    const one = await n.request(`/v1/agent/service/${id}`);
    expect(one.status).toBe(200);
    expect(((await one.json()) as { ID: string }).ID).toBe(id);
    expect((await n.request(`/v1/agent/check/pass/${id}/ttl?note=ok`, put())).status).toBe(200);
    const health = await n.request(`/v1/agent/health/service/id/${id}?format=text`);
    expect([health.status, await health.text()]).toEqual([200, 'passing']);
    expect((await n.request(`/v1/agent/check/warn/${id}/ttl`, put())).status).toBe(200);
    expect((await n.request(`/v1/agent/check/update/${id}/ttl`, put({ Status: 'critical' }))).status).toBe(200);
    expect((await n.request(`/v1/agent/check/fail/${id}/ttl`, put())).status).toBe(200);
    expect((await n.request(`/v1/agent/service/maintenance/${id}?enable=true`, put())).status).toBe(200);
    expect((await n.request(`/v1/agent/check/deregister/${id}/ttl`, put())).status).toBe(200);
    expect((await n.request(`/v1/agent/service/deregister/${id}`, put())).status).toBe(200);
    expect((await n.request(`/v1/agent/service/${id}`)).status).toBe(404);
    // Encoded slashes name the same ID; bad encodings are refused.
    expect((await n.request('/v1/agent/service/register', register)).status).toBe(200);
    expect((await n.request('/v1/agent/service/pg%2Fpg1')).status).toBe(200);
    const bad = await n.request('/v1/agent/service/pg%zz');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/^Invalid ID "pg%zz": bad percent-encoding/);
  });
});

describe('agent writes', () => {
  it('are in the catalog and health answers when they return, without waiting for anti-entropy', async () => {
    // The harness clock is manual: nothing scheduled runs unless a test advances it.
    const n = createTestNode();
    const register = put({ ID: 'web1', Name: 'web', Port: 80, Check: { CheckID: 'web1-ttl', TTL: '30s' } });
    expect((await n.request('/v1/agent/service/register', register)).status).toBe(200);
    const catalog = (await (await n.request('/v1/catalog/service/web')).json()) as Array<{ ServiceID: string }>;
    expect(catalog.map((s) => s.ServiceID)).toEqual(['web1']);
    const passing = async () =>
      ((await (await n.request('/v1/health/service/web?passing')).json()) as unknown[]).length;
    expect(await passing()).toBe(0);
    expect((await n.request('/v1/agent/check/pass/web1-ttl', put())).status).toBe(200);
    expect(await passing()).toBe(1);
    expect((await n.request('/v1/agent/service/maintenance/web1?enable=true', put())).status).toBe(200);
    expect(await passing()).toBe(0);
    expect((await n.request('/v1/agent/service/maintenance/web1?enable=false', put())).status).toBe(200);
    expect(await passing()).toBe(1);
    const check = put({ CheckID: 'disk', Name: 'disk', TTL: '30s' });
    expect((await n.request('/v1/agent/check/register', check)).status).toBe(200);
    const nodeChecks = async () =>
      ((await (await n.request('/v1/health/node/test')).json()) as Array<{ CheckID: string }>).map((c) => c.CheckID);
    expect(await nodeChecks()).toContain('disk');
    expect((await n.request('/v1/agent/check/deregister/disk', put())).status).toBe(200);
    expect(await nodeChecks()).not.toContain('disk');
    expect((await n.request('/v1/agent/service/deregister/web1', put())).status).toBe(200);
    expect(await (await n.request('/v1/catalog/service/web')).json()).toEqual([]);
  });
});
