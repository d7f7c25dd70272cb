import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'core/**/*.test.ts',
      'server/**/*.test.ts',
      'runtimes/**/*.test.ts',
      'edge/**/*.test.ts',
      'cli/**/*.test.ts',
      'testing/**/*.test.ts',
    ],
    // The arm64 emulation test runs only through `npm run test:arm64` (it needs qemu and fetched binaries);
    // the consumers suite (Patroni, PostgreSQL, python-consul) only through `npm run test:consumers`.
    exclude:
      process.env['KONSUL_ARM64'] === '1'
        ? ['**/node_modules/**', 'testing/consumers/**']
        : ['**/node_modules/**', '**/*.arm64.test.ts', 'testing/consumers/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
