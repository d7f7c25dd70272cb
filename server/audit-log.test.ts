import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../core/api/audit-sink.js';
import type { Logger } from '../core/ports/logger.js';
import { silentLogger } from '../core/ports/logger.js';
import { AUDIT_QUEUE_MAX, AuditFile } from './audit-log.js';
import { cleanupAll, tempDir } from '../testing/spawn-server.js';

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
