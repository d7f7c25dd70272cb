import { describe, expect, it } from 'vitest';
import { parseFlags, resolveOptions } from './options.js';
import { SERVER_OPTIONS, toServerConfig } from './server-options.js';

const resolve = (argv: string[], env: Record<string, string> = {}) =>
  toServerConfig(resolveOptions(SERVER_OPTIONS, parseFlags(SERVER_OPTIONS, argv, 'server'), env, undefined));

describe('server listen addresses', () => {
  it('with --dev, takes a free raft port, and DNS and MQTT ports that give way when taken', () => {
    const c = resolve(['--dev']);
    expect(c.raftAddr).toEqual({ host: '127.0.0.1', port: 0 });
    expect(c.dnsAddr).toEqual({ host: '127.0.0.1', port: 8600, orFreePort: true });
    expect(c.mqttAddr).toEqual({ host: '127.0.0.1', port: 1883, orFreePort: true });
  });

  it('without --dev, listens on raft port 8300 and runs neither DNS nor MQTT', () => {
    const c = resolve([]);
    expect(c.raftAddr).toEqual({ host: '127.0.0.1', port: 8300 });
    expect(c.dnsAddr).toBeUndefined();
    expect(c.mqttAddr).toBeUndefined();
  });

  it('uses addresses that were asked for as they are, also with --dev (a taken port is then an error)', () => {
    const c = resolve(['--dev', '--raft-addr', '127.0.0.1:8300', '--dns-addr', '127.0.0.1:8600'], {
      KONSUL_MQTT_ADDR: '127.0.0.1:1883',
    });
    expect(c.raftAddr).toEqual({ host: '127.0.0.1', port: 8300 });
    expect(c.dnsAddr).toEqual({ host: '127.0.0.1', port: 8600 });
    expect(c.mqttAddr).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(resolve(['--dev', '--mqtt-url', 'mqtt://broker:1883']).mqttAddr).toBeUndefined();
  });
});
