import { defineConfig } from 'vitest/config';

// `npm run test:ui`: the Web UI in Debian's Chromium (driven by playwright-core) against real server
// processes. One file at a time; `npm test` leaves them out (see vitest.config.ts).
export default defineConfig({
  test: {
    include: ['ui/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
