import { defineConfig } from 'tsup';

// One ESM bundle per entry; dependencies stay external (installed from npm).
export default defineConfig({
  entry: { cli: 'cli/main.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  splitting: true,
  sourcemap: true,
  clean: true,
  banner: { js: '#!/usr/bin/env node' },
});
