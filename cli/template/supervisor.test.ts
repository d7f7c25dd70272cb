import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../../testing/process.js';
import { cleanupAll, tempDir } from '../../testing/spawn-server.js';
import { Supervisor } from './supervisor.js';

afterAll(cleanupAll);

/** A child that notes its start and each SIGHUP in `file`, and runs until killed. */
const child = (file: string) => [
  'sh',
  '-c',
  `echo "start $FOO" >> ${file}; trap 'echo hup >> ${file}' HUP; while true; do sleep 0.05; done`,
];

describe('Supervisor', () => {
  it('starts the child, sends the reload signal on a change, restarts it when it dies, and stops it', async () => {
    const file = join(tempDir(), 'log');
    const logs: string[] = [];
    const s = new Supervisor({
      command: child(file),
      env: () => ({ ...process.env, FOO: 'bar' }),
      reloadSignal: 'SIGHUP',
      restartDelayMs: 50,
      log: (l) => logs.push(l),
    });
    s.start();
    const lines = () => readFileSync(file, 'utf8').trim().split('\n');
    await until(
      'the first start',
      async () => lines().length,
      (n) => n === 1,
    );
    expect(lines()).toEqual(['start bar']);
    await s.changed();
    await until('lines().length === 2', async () => lines().length === 2, Boolean);
    expect(lines()[1]).toBe('hup');
    // Killed from outside: started again.
    s.forward('SIGKILL');
    await until('s.starts === 2 && lines().length === 3', async () => s.starts === 2 && lines().length === 3, Boolean);
    expect(logs[0]).toMatch(/^child exited with 137; starting it again$/);
    expect(await s.stop()).toBe(143);
  });

  it('without a reload signal, restarts the child on a change', async () => {
    const file = join(tempDir(), 'log');
    const s = new Supervisor({ command: child(file), log: () => undefined });
    s.start();
    await until('s.starts === 1', async () => s.starts === 1, Boolean);
    await s.changed();
    expect(s.starts).toBe(2);
    await s.stop();
  });
});
