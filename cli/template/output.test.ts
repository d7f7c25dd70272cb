import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAll, tempDir } from '../../testing/spawn-server.js';
import { runCommand, writeRendered } from './output.js';

afterAll(cleanupAll);

describe('writing renders and running commands', () => {
  it('writes atomically with the old mode, only on a change, and keeps a backup when asked', () => {
    const dir = tempDir();
    const path = join(dir, 'out.conf');
    expect(writeRendered(path, 'a\n')).toBe('written');
    expect(statSync(path).mode & 0o777).toBe(0o644);
    chmodSync(path, 0o600);
    const before = statSync(path).mtimeMs;
    expect(writeRendered(path, 'a\n')).toBe('unchanged');
    expect(statSync(path).mtimeMs).toBe(before);
    expect(writeRendered(path, 'b\n', { backup: true })).toBe('written');
    expect(readFileSync(path, 'utf8')).toBe('b\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${path}.bak`, 'utf8')).toBe('a\n');
    // No temporary file is left behind.
    expect(readdirSync(dir).sort()).toEqual(['out.conf', 'out.conf.bak']);
    writeFileSync(join(dir, 'x'), '');
    expect(existsSync(join(dir, 'x'))).toBe(true);
  });

  it('runs a command with a timeout, and reports its exit', async () => {
    expect(await runCommand('echo hi; exit 3', 5000)).toMatchObject({ code: 3, timedOut: false, output: 'hi\n' });
    const slow = await runCommand('sleep 10', 200);
    expect(slow.timedOut).toBe(true);
    expect(slow.signal).toBe('SIGTERM');
  });
});
