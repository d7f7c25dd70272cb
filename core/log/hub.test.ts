import { describe, expect, it } from 'vitest';
import { OverloadedError, ShuttingDownError } from '../errors.js';
import { LogHub, MAX_MONITORS, MONITOR_BUFFER_LINES } from './hub.js';

const clock = { now: () => Date.UTC(2026, 0, 1) };

describe('LogHub', () => {
  it('writes lines at its level, which can change at run time, redacting secrets', () => {
    const out: string[] = [];
    const hub = new LogHub({ level: 'info', format: 'json', clock, write: (l) => out.push(l) });
    const log = hub.logger({ component: 'test' });
    log.debug('hidden');
    log.info('shown', { token: 'secret-value', n: 1 });
    hub.setLevel('debug');
    expect(hub.level()).toBe('debug');
    log.child({ sub: 'x' }).debug('now shown');
    hub.setLevel('error');
    log.warn('hidden again');
    expect(out.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      {
        '@timestamp': '2026-01-01T00:00:00.000Z',
        '@level': 'info',
        '@message': 'shown',
        component: 'test',
        token: '[redacted]',
        n: 1,
      },
      {
        '@timestamp': '2026-01-01T00:00:00.000Z',
        '@level': 'debug',
        '@message': 'now shown',
        component: 'test',
        sub: 'x',
      },
    ]);
    expect(out.join('\n')).not.toContain('secret-value');
  });

  it('gives a monitor the lines at its own level and format, more verbose than the hub if asked', async () => {
    const out: string[] = [];
    const hub = new LogHub({ level: 'warn', format: 'json', clock, write: (l) => out.push(l) });
    const log = hub.logger();
    const m = hub.monitor('debug', 'text');
    const waiting = m.next();
    log.debug('one', { k: 'v w' });
    expect(await waiting).toEqual({ lines: ['2026-01-01T00:00:00.000Z [DEBUG] one k="v w"'], dropped: 0 });
    log.trace('below the monitor');
    log.info('two');
    log.error('three');
    expect((await m.next())?.lines).toEqual([
      '2026-01-01T00:00:00.000Z [INFO]  two',
      '2026-01-01T00:00:00.000Z [ERROR] three',
    ]);
    // The hub itself still writes only warn and above.
    expect(out).toHaveLength(1);
    const pending = m.next();
    m.close();
    expect(await pending).toBeUndefined();
    expect(await m.next()).toBeUndefined();
  });

  it('drops and counts lines a slow monitor has no room for, and bounds the monitors', async () => {
    const hub = new LogHub({ level: 'info', format: 'text', clock, write: () => undefined });
    const log = hub.logger();
    const slow = hub.monitor('info', 'text');
    for (let i = 0; i < MONITOR_BUFFER_LINES + 10; i++) log.info(`line ${i}`);
    const batch = await slow.next();
    expect(batch?.lines).toHaveLength(MONITOR_BUFFER_LINES);
    expect(batch?.dropped).toBe(10);
    const more = Array.from({ length: MAX_MONITORS - 1 }, () => hub.monitor('error', 'json'));
    expect(() => hub.monitor('info', 'text')).toThrow(OverloadedError);
    more[0]?.close();
    const again = hub.monitor('info', 'text');
    hub.close();
    expect(await again.next()).toBeUndefined();
    expect(() => hub.monitor('info', 'text')).toThrow(ShuttingDownError);
  });
});
