import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.js';
import { errnoOf, listenFailed, readFailed, StartupError } from './start-errors.js';

const errno = (code: string, message = `listen ${code}`): NodeJS.ErrnoException =>
  Object.assign(new Error(message), { code });

describe('start-up errors', () => {
  it('finds the errno code on the error, its cause, or at the end of an adapter message', () => {
    expect(errnoOf(errno('EADDRINUSE'))).toBe('EADDRINUSE');
    expect(errnoOf(new Error('wrapped', { cause: errno('EACCES') }))).toBe('EACCES');
    // runtimes/node/http-server.ts reports a failed listen as a ConfigError ending with the code.
    expect(errnoOf(new ConfigError('cannot listen on 127.0.0.1:8500: EADDRINUSE'))).toBe('EADDRINUSE');
    expect(errnoOf(new ConfigError('invalid value for --http-addr'))).toBeUndefined();
  });

  it('names the flag and the value in one line, with the reason spelled out', () => {
    const taken = listenFailed('--http-addr', '127.0.0.1:8500', errno('EADDRINUSE'));
    expect(taken).toBeInstanceOf(StartupError);
    expect(taken.message).toBe('cannot listen on --http-addr 127.0.0.1:8500: address in use (EADDRINUSE)');
    expect([taken.flag, taken.value]).toEqual(['--http-addr', '127.0.0.1:8500']);
    expect(readFailed('--tls-cert', '/x.pem', errno('ENOENT')).message).toBe(
      'cannot read --tls-cert /x.pem: no such file or directory (ENOENT)',
    );
    expect(listenFailed('--dns-addr', 'h:1', errno('EWEIRD')).message).toBe('cannot listen on --dns-addr h:1: EWEIRD');
    expect(listenFailed('--dns-addr', 'h:1', new Error('boom')).message).toBe('cannot listen on --dns-addr h:1: boom');
    expect(new StartupError('--x', 'v', 'two\n  lines').message).toBe('two lines');
  });
});
