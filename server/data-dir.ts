import { randomUUID } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../core/errors.js';
import { describeFailure, StartupError } from './start-errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The node's UUID, created on first start and kept in <dataDir>/node-id so it survives restarts.
 * Throws StorageError when the file exists but holds no UUID.
 */
export async function loadNodeId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'node-id');
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (!UUID.test(text)) throw new StorageError(`${file} does not hold a node UUID`);
    return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomUUID();
  await writeFile(`${file}.tmp`, `${id}\n`);
  await rename(`${file}.tmp`, file);
  return id;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims <dataDir>/LOCK for this process so two servers never share a data dir. A lock left by
 * a dead process (kill -9) is taken over. Returns a release function. Throws StartupError
 * (naming --data-dir) when a live process holds the lock or the lock file cannot be written.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = join(dataDir, 'LOCK');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: 'wx' });
      return async () => {
        await unlink(file).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new StartupError(
          '--data-dir',
          dataDir,
          `cannot lock data dir ${dataDir}: ${describeFailure(err)} (--data-dir)`,
        );
      const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && pidAlive(holder)) {
        throw new StartupError(
          '--data-dir',
          dataDir,
          `data dir ${dataDir} is locked by another server, in use by process ${holder} (--data-dir)`,
        );
      }
      await unlink(file).catch(() => {});
    }
  }
  throw new StartupError('--data-dir', dataDir, `cannot lock data dir ${dataDir} (--data-dir)`);
}
