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

describe('--dns-a-record-limit', () => {
  const withFile = (text: string) =>
    toServerConfig(
      resolveOptions(SERVER_OPTIONS, parseFlags(SERVER_OPTIONS, [], 'server'), {}, { path: 'k.json', text }),
    );

  it('is off (0) by default and read from the flag, the environment or the config file', () => {
    expect(resolve([]).dnsARecordLimit).toBe(0);
    expect(resolve(['--dns-a-record-limit', '3']).dnsARecordLimit).toBe(3);
    expect(resolve([], { KONSUL_DNS_A_RECORD_LIMIT: '2' }).dnsARecordLimit).toBe(2);
    expect(withFile('{"dns_a_record_limit": 5}').dnsARecordLimit).toBe(5);
    expect(withFile('{"dns": {"a_record_limit": 1}}').dnsARecordLimit).toBe(1);
  });

  it('refuses values that are not an integer in 0..65535, naming the flag or variable', () => {
    for (const bad of ['-1', '1.5', 'two', '65536'])
      expect(() => resolve(['--dns-a-record-limit', bad]), bad).toThrow(/--dns-a-record-limit/);
    expect(() => resolve([], { KONSUL_DNS_A_RECORD_LIMIT: 'x' })).toThrow(/KONSUL_DNS_A_RECORD_LIMIT/);
    expect(() => withFile('{"dns_a_record_limit": -3}')).toThrow(/dns_a_record_limit/);
  });
});

describe('--mqtt-protocol and --mqtt-session-expiry', () => {
  it('default to auto and 300 s, and take 5, 3.1.1 and 0..86400 from flags or the environment', () => {
    const c = resolve(['--mqtt-url', 'mqtt://broker:1883']);
    expect([c.mqttProtocol, c.mqttSessionExpirySeconds]).toEqual(['auto', 300]);
    const five = resolve(['--mqtt-url', 'mqtt://broker:1883', '--mqtt-protocol', '5', '--mqtt-session-expiry', '0']);
    expect([five.mqttProtocol, five.mqttSessionExpirySeconds]).toEqual(['5', 0]);
    expect(resolve(['--dev'], { KONSUL_MQTT_PROTOCOL: '3.1.1' }).mqttProtocol).toBe('3.1.1');
  });

  it('refuses other versions, expiries out of range, and MQTT 5 with the embedded broker', () => {
    for (const bad of ['4', '3', 'v5', ''])
      expect(() => resolve(['--mqtt-url', 'mqtt://b:1883', '--mqtt-protocol', bad]), bad).toThrow(/--mqtt-protocol/);
    for (const bad of ['-1', '86401', '1.5'])
      expect(() => resolve(['--mqtt-session-expiry', bad]), bad).toThrow(/--mqtt-session-expiry/);
    expect(() => resolve(['--dev', '--mqtt-protocol', '5'])).toThrow(/MQTT 3\.1\.1 only/);
  });
});
