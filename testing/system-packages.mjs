#!/usr/bin/env node
// Makes sure the system programs the tests use are installed: `node testing/system-packages.mjs test`
// (npm test: dig, openssl, prometheus, mosquitto, libfaketime), `… arm64` (npm run
// test:arm64: qemu-user-static and the arm64 C library) or `… consumers` (npm run test:consumers:
// Patroni, PostgreSQL, HAProxy and python-consul for /usr/bin/python3), `… ui` (npm run test:ui:
// Chromium), `… nemesis` (npm run nemesis: iproute2 for network namespaces, libfaketime) or `… bench` (the benches'
// load generators: wrk and dnsperf). As root with apt-get it
// installs what is missing (Debian packages) and stops the services those packages start (tests run
// their own Prometheus, mosquitto, PostgreSQL and HAProxy on free ports); otherwise it names the
// missing packages and the command that installs them, and exits 1. .ci/run calls it too, so this
// file is the one list.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

/** Per suite: Debian package and how to tell it is installed (a program on PATH, or a file). */
const SUITES = {
  test: [
    { pkg: 'dnsutils', program: 'dig' },
    { pkg: 'openssl', program: 'openssl' },
    { pkg: 'prometheus', program: 'prometheus' },
    { pkg: 'mosquitto', program: 'mosquitto' },
    // A server with its clock off by minutes (lock delays across clock skew).
    { pkg: 'faketime', file: '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1' },
  ],
  arm64: [
    { pkg: 'qemu-user-static', program: 'qemu-aarch64-static' },
    { pkg: 'libc6-arm64-cross', file: '/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1' },
    { pkg: 'libgcc-s1-arm64-cross', file: '/usr/aarch64-linux-gnu/lib/libgcc_s.so.1' },
  ],
  consumers: [
    { pkg: 'patroni', file: '/usr/bin/patroni' },
    // Debian installs the server programs off PATH, one directory per major version.
    { pkg: 'postgresql', test: () => postgresBinDirs().length > 0 },
    { pkg: 'haproxy', program: 'haproxy' },
    // The module for the system Python (the one Patroni runs on), whatever python3 is first on PATH.
    {
      pkg: 'python3-consul',
      test: () => existsSync('/usr/lib/python3/dist-packages/consul/__init__.py') || pyImports('consul'),
    },
  ],
  // npm run test:ui: the browser tests drive Debian's Chromium with playwright-core.
  ui: [{ pkg: 'chromium', program: 'chromium' }],
  // npm run nemesis: network namespaces and veth pairs (ip) and clock faults (libfaketime).
  nemesis: [
    { pkg: 'iproute2', program: 'ip' },
    { pkg: 'faketime', file: '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1' },
  ],
  bench: [
    { pkg: 'wrk', program: 'wrk' },
    { pkg: 'dnsperf', program: 'dnsperf' },
  ],
};
/** Services the Debian packages start that would hold the ports a developer's dev server uses. */
const SERVICES = {
  test: ['prometheus', 'mosquitto'],
  arm64: [],
  consumers: ['postgresql', 'haproxy', 'patroni'],
  ui: [],
  nemesis: [],
  bench: [],
};
const SUITE_NEEDS = {
  test: 'the tests need',
  arm64: 'the arm64 test needs',
  consumers: 'the consumers suite needs',
  ui: 'the browser tests need',
  nemesis: 'the nemesis runner needs',
  bench: 'the benches need',
};

const onPath = (program) => spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
const postgresBinDirs = () =>
  existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))
    : [];
const pyImports = (module) =>
  existsSync('/usr/bin/python3') &&
  spawnSync('/usr/bin/python3', ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
const present = (need) => (need.test ? need.test() : need.program ? onPath(need.program) : existsSync(need.file));

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
  const who = SUITE_NEEDS[suite];
  console.error(
    `${who[0].toUpperCase()}${who.slice(1)} system packages that are not installed: ` +
      `${missing.join(' ')}.\nInstall them (Debian/Ubuntu): sudo apt-get install -y --no-install-recommends ` +
      `${missing.join(' ')}\n(run as root, this step installs them itself)`,
  );
  process.exit(1);
}
console.log(`system-packages: installing ${missing.join(' ')} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
if (onPath('service')) for (const s of SERVICES[suite]) spawnSync('service', [s, 'stop'], { stdio: 'ignore' });
