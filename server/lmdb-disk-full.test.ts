import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAll, tempDir } from '../testing/spawn-server.js';

afterAll(cleanupAll);

const CHILD = resolve(import.meta.dirname, '../testing/lmdb-full-disk-child.ts');
const TSX = resolve(import.meta.dirname, '../node_modules/.bin/tsx');

describe('the LMDB state store on a full disk', () => {
  it('refuses writes with DiskFullError, stays up, and commits what it took once there is room', () => {
    const dir = tempDir();
    // A 4 MiB tmpfs in a mount namespace of the child's own (a user namespace too when not root),
    // so nothing stays mounted whatever happens to the child.
    const ns =
      process.getuid?.() === 0
        ? ['--mount', '--propagation', 'private']
        : ['--user', '--map-root-user', '--mount', '--propagation', 'private'];
    const out = execFileSync(
      'unshare',
      [...ns, 'sh', '-c', 'mount -t tmpfs -o size=4m tmpfs "$1" && exec "$2" "$3" "$1"', 'sh', dir, TSX, CHILD],
      { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const r = JSON.parse(out.trim().split('\n').pop() as string);
    expect(r.acknowledged).toBeGreaterThan(100);
    expect(r.refusal).toMatch(/^DiskFullError: the disk under the state store is full/);
    expect(r.readWhileFull).toBe(r.expectedRead);
    expect(r.after).toBe('ok');
    expect(r.missing).toBe(0);
    expect(r.afterKept).toBe(true);
  });
});
