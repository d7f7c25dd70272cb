#!/usr/bin/env node
// Makes sure the system programs the tests use are installed: `node testing/system-packages.mjs test`
// (npm test: dig, openssl, prometheus, mosquitto, Patroni's Consul module) or `… arm64` (npm run
// test:arm64: qemu-user-static and the arm64 C library). As root with apt-get it installs what is
// missing (Debian packages) and stops the services those packages start (tests run their own
// Prometheus and mosquitto on free ports); otherwise it names the missing packages and the command
// that installs them, and exits 1. .ci/run calls it too, so this file is the one list.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Per suite: Debian package and how to tell it is installed (a program on PATH, or a file). */
const SUITES = {
  test: [
    { pkg: 'dnsutils', program: 'dig' },
    { pkg: 'openssl', program: 'openssl' },
    { pkg: 'prometheus', program: 'prometheus' },
    { pkg: 'mosquitto', program: 'mosquitto' },
    // server/patroni-consul.test.ts drives Patroni's own Consul DCS code with Debian's python3.
    { pkg: 'python3-consul', file: '/usr/lib/python3/dist-packages/consul/__init__.py' },
    { pkg: 'patroni', file: '/usr/lib/python3/dist-packages/patroni/dcs/consul.py' },
  ],
  arm64: [
    { pkg: 'qemu-user-static', program: 'qemu-aarch64-static' },
    { pkg: 'libc6-arm64-cross', file: '/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1' },
    { pkg: 'libgcc-s1-arm64-cross', file: '/usr/aarch64-linux-gnu/lib/libgcc_s.so.1' },
  ],
};
/** Services the Debian packages start that would hold the ports a developer's dev server uses. */
const SERVICES = ['prometheus', 'mosquitto'];

const onPath = (program) => spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
const present = (need) => (need.program ? onPath(need.program) : existsSync(need.file));

const suite = process.argv[2] ?? 'test';
const needs = SUITES[suite];
if (!needs) {
  console.error(`system-packages: unknown suite ${JSON.stringify(suite)} (known: ${Object.keys(SUITES).join(', ')})`);
  process.exit(2);
}
const missing = needs.filter((n) => !present(n)).map((n) => n.pkg);
if (missing.length === 0) process.exit(0);

const root = typeof process.getuid === 'function' && process.getuid() === 0;
if (!root || !onPath('apt-get')) {
  console.error(
    `The ${suite === 'test' ? 'tests need' : 'arm64 test needs'} system packages that are not installed: ` +
      `${missing.join(' ')}.\nInstall them (Debian/Ubuntu): sudo apt-get install -y --no-install-recommends ` +
      `${missing.join(' ')}\n(run as root, this step installs them itself)`,
  );
  process.exit(1);
}
console.log(`system-packages: installing ${missing.join(' ')} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
if (onPath('service')) for (const s of SERVICES) spawnSync('service', [s, 'stop'], { stdio: 'ignore' });
