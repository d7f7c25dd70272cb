import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../core/api/audit-sink.js';
import type { Logger } from '../core/ports/logger.js';
import { silentLogger } from '../core/ports/logger.js';
import { AUDIT_QUEUE_MAX, AuditFile } from './audit-log.js';
import { cleanupAll, spawnServer, tempDir } from '../testing/spawn-server.js';

afterAll(cleanupAll);

const event = (i: number): AuditEvent => ({
  time: new Date(0).toISOString(),
  requestId: `r${i}`,
  source: '127.0.0.1',
  method: 'PUT',
  path: `/v1/kv/${i}`,
  kind: 'write',
  status: 200,
  decision: 'allowed',
});

describe('audit log file', () => {
  it('appends JSON lines in order; beyond the queue bound it drops and counts instead of blocking', async () => {
    const path = join(tempDir(), 'audit.log');
    let droppedSeen = 0;
    const file = new AuditFile(path, silentLogger, (n) => (droppedSeen += n));
    const total = AUDIT_QUEUE_MAX + 500;
    for (let i = 0; i < total; i++) file.record(event(i));
    await file.flush();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines.length + file.dropped).toBe(total);
    expect(file.dropped).toBeGreaterThan(0);
    expect(droppedSeen).toBe(file.dropped);
    expect((JSON.parse(lines[0] as string) as AuditEvent).requestId).toBe('r0');
    const ids = lines.map((l) => Number((JSON.parse(l) as AuditEvent).requestId.slice(1)));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it('counts records it cannot write and logs the failure once', async () => {
    const errors: string[] = [];
    const logger: Logger = { ...silentLogger, error: (m: string) => void errors.push(m), child: () => logger };
    const file = new AuditFile(tempDir(), logger);
    for (let i = 0; i < 3; i++) {
      file.record(event(i));
      await file.flush();
    }
    expect(file.dropped).toBe(3);
    expect(errors).toHaveLength(1);
  });
});

describe('request ids on a running server', () => {
  it('every answer, over HTTP/1.1 and HTTP/2, carries the id its audit record has', async () => {
    const auditPath = join(tempDir(), 'audit.log');
    const server = await spawnServer({ args: ['--audit-log', auditPath] });
    try {
      const put = await fetch(`${server.url}/v1/kv/audited`, { method: 'PUT', body: 'x' });
      const putId = put.headers.get('x-konsul-request-id');
      const get = await fetch(`${server.url}/v1/kv/audited`);
      const getId = get.headers.get('x-konsul-request-id');
      const missing = await fetch(`${server.url}/v1/kv/absent`);
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
      expect(putId).toMatch(uuid);
      expect(getId).toMatch(uuid);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('x-konsul-request-id')).toMatch(uuid);
      expect(new Set([putId, getId, missing.headers.get('x-konsul-request-id')]).size).toBe(3);

      const session = http2.connect(server.url);
      const h2Id = await new Promise<string | undefined>((resolve, reject) => {
        const stream = session.request({ ':method': 'PUT', ':path': '/v1/kv/audited-h2' });
        stream.on('response', (headers) => resolve(headers['x-konsul-request-id'] as string | undefined));
        stream.on('error', reject);
        stream.end('y');
        stream.resume();
      });
      session.close();
      expect(h2Id).toMatch(uuid);

      // Writes are audited (reads only with ACLs on): the log names the ids the answers carried.
      const logged = async () =>
        readFileSync(auditPath, 'utf8')
          .trim()
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as AuditEvent);
      let events: AuditEvent[] = [];
      for (let i = 0; i < 50 && events.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        events = await logged().catch(() => []);
      }
      expect(events.map((e) => [e.path, e.requestId])).toEqual([
        ['/v1/kv/audited', putId],
        ['/v1/kv/audited-h2', h2Id],
      ]);
    } finally {
      await server.stop();
    }
  });
});
