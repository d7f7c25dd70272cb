import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openFileLimit } from './file-limit.js';

describe('openFileLimit', () => {
  it.skipIf(!existsSync('/proc/self/limits'))('reads the soft and hard limits the shell reports', () => {
    const limit = openFileLimit();
    const shell = (flag: string) => {
      const text = execFileSync('sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
      return text === 'unlimited' ? Infinity : Number(text);
    };
    // The shell inherits this process's limits.
    expect(limit).toEqual({ soft: shell('-Sn'), hard: shell('-Hn') });
    expect((limit?.soft ?? 0) <= (limit?.hard ?? 0)).toBe(true);
  });
});
