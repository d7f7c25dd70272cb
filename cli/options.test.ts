import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.js';
import { SERVER_OPTIONS, toServerConfig } from './server-options.js';
import { parseHostPort } from '../core/util/host-port.js';
import { parseFlags, resolveOptions } from './options.js';

const resolve = (argv: string[], env: Record<string, string> = {}, file?: string) =>
  toServerConfig(
    resolveOptions(
      SERVER_OPTIONS,
      parseFlags(SERVER_OPTIONS, argv, 'server'),
      env,
      file === undefined ? undefined : { path: 'c.json', text: file },
    ),
  );

describe('server options', () => {
  it('has dev defaults', () => {
    const c = resolve(['--dev']);
    expect(c).toMatchObject({
      dev: true,
      httpAddr: { host: '127.0.0.1', port: 8500 },
      dataDir: './.konsul',
      datacenter: 'dc1',
      logLevel: 'info',
      logFormat: 'text',
      kvMaxValueBytes: 524288,
    });
  });

  it('takes flags in both --name value and --name=value forms', () => {
    const c = resolve(['--http-addr', '0.0.0.0:9000', '--data-dir=/tmp/x', '--log-format=json']);
    expect(c.httpAddr).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(c.dataDir).toBe('/tmp/x');
    expect(c.logFormat).toBe('json');
  });

  it('applies precedence: default < config file < environment < flag', () => {
    const file = JSON.stringify({ node_name: 'from-file', datacenter: 'filedc', log_level: 'warn' });
    const c = resolve(['--log-level', 'debug'], { KONSUL_DATACENTER: 'envdc', KONSUL_LOG_LEVEL: 'error' }, file);
    expect(c.nodeName).toBe('from-file');
    expect(c.datacenter).toBe('envdc');
    expect(c.logLevel).toBe('debug');
  });

  it('parses IPv6 addresses', () => {
    expect(parseHostPort('[::1]:8500', 'x')).toEqual({ host: '::1', port: 8500 });
  });

  const bad: Array<[string, () => unknown, RegExp]> = [
    ['unknown flag', () => resolve(['--nope']), /unknown flag --nope/],
    ['missing value', () => resolve(['--data-dir']), /--data-dir needs a value/],
    ['repeated flag', () => resolve(['--dev', '--dev']), /more than once/],
    ['stray argument', () => resolve(['serve']), /unexpected argument "serve"/],
    ['bad address', () => resolve(['--http-addr', 'localhost']), /--http-addr.*HOST:PORT/],
    ['port out of range', () => resolve(['--http-addr', '127.0.0.1:70000']), /--http-addr/],
    [
      'bad enum',
      () => resolve(['--log-level', 'loud']),
      /--log-level: "loud" is not one of trace, debug, info, warn, error/,
    ],
    ['bad int', () => resolve(['--kv-max-value-size', '12x']), /--kv-max-value-size.*not an integer/],
    ['int out of range', () => resolve(['--kv-max-value-size', '0']), /out of range/],
    ['bad boolean', () => resolve(['--dev=maybe']), /--dev.*not a boolean/],
    ['bad env', () => resolve([], { KONSUL_LOG_FORMAT: 'xml' }), /KONSUL_LOG_FORMAT/],
    ['bad node name', () => resolve(['--node-name', 'has space']), /--node-name/],
    ['unknown file key', () => resolve([], {}, '{"http_port": 1}'), /unknown key "http_port"/],
    ['bad file value', () => resolve([], {}, '{"kv_max_value_size": "big"}'), /kv_max_value_size in c.json/],
    ['file not JSON', () => resolve([], {}, '{'), /not valid JSON/],
    ['file not object', () => resolve([], {}, '[1]'), /JSON object/],
  ];
  for (const [name, fn, message] of bad) {
    it(`refuses ${name} with a ConfigError naming it`, () => {
      expect(fn).toThrow(ConfigError);
      expect(fn).toThrow(message);
    });
  }
});
