import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAll, runCli } from '../testing/spawn-server.js';

afterAll(cleanupAll);

describe('konsul edge command line', () => {
  it('refuses missing and conflicting options with a message naming them', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['edge', '--prefix', 'a/'], /--upstream is required/],
      [['edge', '--upstream', 'ftp://x', '--prefix', 'a/'], /--upstream/],
      [['edge', '--upstream', 'http://127.0.0.1:1'], /at least one --prefix or --service/],
      [
        ['edge', '--upstream', 'http://127.0.0.1:1', '--prefix', 'a/', '--sync', 'mqtt'],
        /--sync mqtt needs --mqtt-url/,
      ],
      [['edge', '--upstream', 'http://127.0.0.1:1', '--prefix', 'a/', '--sync', 'carrier-pigeon'], /--sync/],
      [['edge', '--upstream', 'http://127.0.0.1:1', '--prefix', 'a/', '--bogus'], /--bogus/],
      [['edge', '--upstream', 'http://127.0.0.1:1', '--prefix', 'a/', '--mqtt-protocol', '4'], /--mqtt-protocol/],
      [
        ['edge', '--upstream', 'http://127.0.0.1:1', '--prefix', 'a/', '--mqtt-session-expiry', '86401'],
        /--mqtt-session-expiry/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.out, args.join(' ')).toMatch(message);
    }
    const help = await runCli(['edge', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--outbox-max/);
    expect(help.out).toMatch(/--mqtt-protocol/);
  });
});
