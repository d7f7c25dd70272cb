import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { Io } from '../client/output.js';
import { buildProgram, runClientCommand } from './program.js';

const quiet = (): Io & { text: () => string } => {
  let text = '';
  return {
    out: (t) => (text += typeof t === 'string' ? t : Buffer.from(t).toString()),
    err: (t) => (text += t),
    tty: false,
    stdin: () => Promise.resolve(Buffer.alloc(0)),
    text: () => text,
  };
};

function walk(cmd: Command, path: string[] = []): Array<{ path: string[]; cmd: Command }> {
  return [{ path, cmd }, ...cmd.commands.flatMap((c) => walk(c, [...path, c.name()]))];
}

describe('the client command tree', () => {
  it('builds, and every command documents its flags with -h (exit 0)', async () => {
    const program = buildProgram(quiet(), {}, () => undefined);
    const all = walk(program);
    expect(all.length).toBeGreaterThan(40);
    for (const { path } of all.slice(1)) {
      const io = quiet();
      expect(await runClientCommand([...path, '-h'], {}, io), path.join(' ')).toBe(0);
      expect(io.text(), path.join(' ')).toMatch(/^Usage: konsul /);
    }
    const kvGet = quiet();
    await runClientCommand(['kv', 'get', '-h'], {}, kvGet);
    for (const flag of ['--recurse', '--keys', '--separator', '--detailed', '--base64', '--http-addr', '--token'])
      expect(kvGet.text()).toContain(flag);
  });
});
