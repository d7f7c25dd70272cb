/**
 * Puts the aarch64 builds of Bun and Deno, at the versions the project pins, under .cache/arm64/
 * (npm installs only the host's platform package, so they come through `npm pack`). Run by
 * `npm run test:arm64` and the edge benchmark; does nothing when the versions are already there.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ARM64_DIR } from './spawn-edge.js';

const root = resolve(import.meta.dirname, '..');
const version = (pkg: string): string =>
  (JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

const wanted = [
  { name: 'bun', pkg: `@oven/bun-linux-aarch64@${version('bun')}`, inside: 'package/bin/bun' },
  { name: 'deno', pkg: `@deno/linux-arm64-glibc@${version('deno')}`, inside: 'package/deno' },
];

mkdirSync(ARM64_DIR, { recursive: true });
for (const w of wanted) {
  const stamp = join(ARM64_DIR, `${w.name}.version`);
  if (existsSync(join(ARM64_DIR, w.name)) && existsSync(stamp) && readFileSync(stamp, 'utf8') === w.pkg) continue;
  const work = mkdtempSync(join(tmpdir(), 'konsul-arm64-'));
  try {
    const file = execFileSync('npm', ['pack', w.pkg, '--pack-destination', work, '--silent'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop() as string;
    execFileSync('tar', ['xzf', join(work, file), '-C', work, w.inside]);
    copyFileSync(join(work, w.inside), join(ARM64_DIR, w.name));
    chmodSync(join(ARM64_DIR, w.name), 0o755);
    writeFileSync(stamp, w.pkg);
    process.stdout.write(`fetched ${w.pkg} -> ${join(ARM64_DIR, w.name)}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
