import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAll, requireProgram, startProcess } from './process.js';

afterAll(cleanupAll);

describe('test processes', () => {
  const title = 'fail with a message naming the program and its Debian package when missing, never an unhandled error';
  it(title, async () => {
    expect(() => requireProgram('konsul-no-such-program', 'konsul-no-such-package')).toThrow(
      /konsul-no-such-program is not installed: install the Debian package konsul-no-such-package/,
    );
    expect(() => requireProgram('sh', 'dash')).not.toThrow();
    await expect(startProcess('konsul-no-such-program', [], { ready: /never/ })).rejects.toThrow(
      /cannot start konsul-no-such-program: spawn konsul-no-such-program ENOENT/,
    );
  });
});
