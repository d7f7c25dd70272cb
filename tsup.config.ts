import { defineConfig } from 'tsup';

export default defineConfig([
  // The konsul command: one ESM bundle per entry; dependencies stay external (installed from npm).
  {
    entry: { cli: 'cli/main.ts' },
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    splitting: true,
    sourcemap: true,
    clean: true,
    banner: { js: '#!/usr/bin/env node' },
  },
  // The edge agent on its own (dist/edge/edge.js): no server code, and its dependencies bundled in,
  // so a device needs only this directory (with hotpaths.wasm and ui/, copied by the build) and a
  // runtime, no node_modules. The MQTT client, prom-client and each runtime's adapter stay in
  // chunks of their own, loaded only when the configuration uses them.
  {
    entry: { edge: 'cli/edge-main.ts' },
    outDir: 'dist/edge',
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    splitting: true,
    sourcemap: false,
    clean: false,
    noExternal: [/.*/],
    banner: {
      // Bundled CommonJS dependencies (mqtt's) call require() for Node's built-ins.
      js: [
        '#!/usr/bin/env node',
        "import { createRequire as __konsulRequire } from 'node:module';",
        'const require = __konsulRequire(import.meta.url);',
      ].join('\n'),
    },
  },
]);
