import { describe, expect, it } from 'vitest';
import { createTestNode } from '../../testing/harness.js';
import { callerAddress, CLIENT_ADDRESS_HEADER, FORWARDED_HEADER, resolveLocalDefaults } from './local-defaults.js';
import { findRoute } from './route-table.js';

const req = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
  new Request(`http://konsul.test${path}`, init);
const decode = (b: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>;

describe('defaults that mean "this server", resolved before a request is forwarded', () => {
  const { deps } = createTestNode();
  const create = findRoute('PUT', '/v1/session/create')!.facts;

  it("fills a session's Node with the receiving server's name unless the client named one", async () => {
    const empty = await resolveLocalDefaults(deps, req('/v1/session/create', { method: 'PUT' }), create);
    expect(decode(empty.body)).toEqual({ Node: 'test' });
    const ttl = req('/v1/session/create', { method: 'PUT', body: JSON.stringify({ TTL: '15s', Node: '' }) });
    expect(decode((await resolveLocalDefaults(deps, ttl, create)).body)).toEqual({ TTL: '15s', Node: 'test' });
    const named = req('/v1/session/create', { method: 'PUT', body: JSON.stringify({ Node: 'other' }) });
    expect(decode((await resolveLocalDefaults(deps, named, create)).body)).toEqual({ Node: 'other' });
    // What is not a JSON object goes as sent: the leader answers it as it would the client.
    const junk = req('/v1/session/create', { method: 'PUT', body: '[1' });
    expect(new TextDecoder().decode((await resolveLocalDefaults(deps, junk, create)).body)).toBe('[1');
  });

  it('names this server for near=_agent and passes the caller address on', async () => {
    const route = findRoute('GET', '/v1/health/service/web')!.facts;
    const r = req('/v1/health/service/web?near=_agent&passing', { headers: { 'x-test-client': '10.1.2.3' } });
    const out = await resolveLocalDefaults(deps, r, route);
    expect(out.search).toBe('?near=test&passing=');
    expect(out.headers).toEqual({ [CLIENT_ADDRESS_HEADER]: '10.1.2.3' });
    expect(out.body).toBeUndefined();
  });

  it("trusts a forwarded caller address only from a peer server's address", () => {
    const headers = { [FORWARDED_HEADER]: 'n2', [CLIENT_ADDRESS_HEADER]: '10.9.9.9' };
    // The harness's only peer is 127.0.0.1:8300.
    expect(callerAddress(deps, req('/v1/kv/a', { headers: { ...headers, 'x-test-client': '127.0.0.1' } }))).toBe(
      '10.9.9.9',
    );
    expect(callerAddress(deps, req('/v1/kv/a', { headers: { ...headers, 'x-test-client': '10.0.0.7' } }))).toBe(
      '10.0.0.7',
    );
    expect(
      callerAddress(
        deps,
        req('/v1/kv/a', { headers: { [CLIENT_ADDRESS_HEADER]: '1.1.1.1', 'x-test-client': '127.0.0.1' } }),
      ),
    ).toBe('127.0.0.1');
  });
});
