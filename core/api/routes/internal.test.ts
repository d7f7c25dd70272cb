import { decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { createTestNode } from '../../../testing/harness.js';
import { registerAgentMetricsRoute } from './agent-metrics.js';
import { registerFaultsRoute, registerInternalProposeRoute } from './internal.js';

/** A peer-proposals port that echoes what it was sent, recording each call. */
function echoProposals() {
  const seen: Uint8Array[] = [];
  return {
    seen,
    proposeForPeer: async (command: Uint8Array) => {
      seen.push(command);
      return encode({ ok: true, index: 7, value: decode(command) });
    },
  };
}

const propose = (token?: string) => ({
  method: 'POST',
  body: encode({ type: 'kv.set', key: 'a' }),
  headers: { 'Content-Type': 'application/msgpack', ...(token ? { 'X-Konsul-Join-Token': token } : {}) },
});

describe('server-only routes', () => {
  it('/v1/internal/propose hands the command to the port and answers its msgpack reply', async () => {
    const n = createTestNode();
    const port = echoProposals();
    registerInternalProposeRoute(n.app, port, { joinToken: undefined, aclEnabled: false });
    const res = await n.request('/v1/internal/propose', propose());
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toBe('application/msgpack');
    expect(decode(new Uint8Array(await res.arrayBuffer()))).toEqual({
      ok: true,
      index: 7,
      value: { type: 'kv.set', key: 'a' },
    });
    expect(port.seen).toHaveLength(1);
  });

  it('/v1/internal/propose needs the join token when one is set, and any token at all with ACLs on', async () => {
    const withToken = createTestNode();
    const port = echoProposals();
    registerInternalProposeRoute(withToken.app, port, { joinToken: 's3cret', aclEnabled: true });
    expect((await withToken.request('/v1/internal/propose', propose())).status).toBe(403);
    expect((await withToken.request('/v1/internal/propose', propose('wrong'))).status).toBe(403);
    expect((await withToken.request('/v1/internal/propose', propose('s3cret'))).status).toBe(200);
    const aclsNoToken = createTestNode();
    registerInternalProposeRoute(aclsNoToken.app, port, { joinToken: undefined, aclEnabled: true });
    const refused = await aclsNoToken.request('/v1/internal/propose', propose());
    expect([refused.status, await refused.text()]).toEqual([403, 'Permission denied\n']);
    expect(port.seen).toHaveLength(1);
  });

  it('/v1/agent/metrics answers JSON, or the Prometheus text with its content type', async () => {
    const n = createTestNode();
    registerAgentMetricsRoute(n.app, {
      prometheus: async () => ({ body: 'konsul_x_total 3\n', contentType: 'text/plain; version=0.0.4' }),
      json: async () => ({ Counters: [{ Name: 'konsul_x_total', Count: 3 }] }),
    });
    const json = await n.request('/v1/agent/metrics');
    expect(await json.json()).toEqual({ Counters: [{ Name: 'konsul_x_total', Count: 3 }] });
    const text = await n.request('/v1/agent/metrics?format=prometheus');
    expect(text.headers.get('Content-Type')).toBe('text/plain; version=0.0.4');
    expect(await text.text()).toBe('konsul_x_total 3\n');
  });

  it('/v1/internal/faults passes the node names to the port and refuses any other body with 400', async () => {
    const n = createTestNode();
    const blocked: string[][] = [];
    registerFaultsRoute(n.app, { block: (peers) => blocked.push([...peers]) });
    const ok = await n.request('/v1/internal/faults', { method: 'PUT', body: JSON.stringify({ block: ['n2', 'n3'] }) });
    expect(await ok.json()).toEqual({ blocked: ['n2', 'n3'] });
    for (const body of ['{"block": "n2"}', '{"block": [1]}', 'not json', '{}']) {
      const bad = await n.request('/v1/internal/faults', { method: 'PUT', body });
      expect(bad.status, body).toBe(400);
    }
    expect(blocked).toEqual([['n2', 'n3']]);
  });
});
