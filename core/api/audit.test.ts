import { describe, expect, it } from 'vitest';
import { createTestNode } from '../../testing/harness.js';
import type { AuditEvent } from './audit-sink.js';

describe('audit records', () => {
  const title =
    'record writes (and, with ACLs on, every request) with the request id, source and accessor, never a secret';
  it(title, async () => {
    const events: AuditEvent[] = [];
    const node = createTestNode({
      acl: { enabled: true, defaultPolicy: 'deny' },
      audit: { record: (e) => events.push(e) },
    });
    const boot = await node.request('/v1/acl/bootstrap', { method: 'PUT', headers: { 'x-test-client': '10.1.1.1' } });
    const secret = ((await boot.json()) as { SecretID: string }).SecretID;
    const put = await node.request(`/v1/kv/a?token=${secret}`, {
      method: 'PUT',
      body: 'v',
      headers: { 'x-test-client': '10.1.1.2' },
    });
    const denied = await node.request('/v1/kv/a');
    const read = await node.request('/v1/kv/a', { headers: { 'X-Consul-Token': secret } });
    const asked = await node.request('/v1/internal/acl/authorize', {
      method: 'POST',
      body: '[{"Resource":"key","Segment":"a","Access":"write"}]',
      headers: { 'X-Consul-Token': secret },
    });
    expect([put.status, denied.status, read.status, asked.status]).toEqual([200, 403, 200, 200]);
    expect(events.map((e) => [e.method, e.path, e.kind, e.status, e.decision])).toEqual([
      ['PUT', '/v1/acl/bootstrap', 'write', 200, 'allowed'],
      ['PUT', '/v1/kv/a', 'write', 200, 'allowed'],
      ['GET', '/v1/kv/a', 'read', 403, 'denied'],
      ['GET', '/v1/kv/a', 'read', 200, 'allowed'],
      ['POST', '/v1/internal/acl/authorize', 'read', 200, 'allowed'],
    ]);
    expect(events[1]).toMatchObject({ source: '10.1.1.2', requestId: put.headers.get('x-konsul-request-id') });
    expect(events[2]?.accessor).toBe('00000000-0000-0000-0000-000000000002');
    expect(events[3]?.accessor).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(events)).not.toContain(secret);
  });

  it('without ACLs, only writes are recorded', async () => {
    const events: AuditEvent[] = [];
    const node = createTestNode({ audit: { record: (e) => events.push(e) } });
    await node.request('/v1/kv/a', { method: 'PUT', body: 'v' });
    await node.request('/v1/kv/a');
    // The UI's question "what may I do?" is a POST that changes nothing: not a write.
    await node.request('/v1/internal/acl/authorize', { method: 'POST', body: '[]' });
    expect(events.map((e) => e.method)).toEqual(['PUT']);
  });
});
