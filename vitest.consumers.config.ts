import { defineConfig } from 'vitest/config';

// `npm run test:consumers`: real third-party Consul consumers (Patroni with PostgreSQL, python-consul)
// against real Konsul server processes. Heavy (several servers and databases per file), so files run
// one at a time; `npm test` leaves them out (see vitest.config.ts).
export default defineConfig({
  test: {
    include: ['testing/consumers/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
