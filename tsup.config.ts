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
      // Bundled CommonJS dependencies (mqtt's, prom-client's) call require() for Node's built-ins.
      // The require is made on first call, through process.getBuiltinModule (Node >= 20.16, Deno,
      // Bun): an import of node:module here would load Deno's Node compatibility layer (~6 MB) at
      // start even where nothing needs it (HTTP sync, no metrics scrape).
      //
      // `// @bun` marks the files as already bundled: Bun then runs them without passing them
      // through its transpiler, which costs start-up time and memory it keeps (about 5 MB for
      // this bundle when its cache of transpiled files misses, and on every start for the chunks
      // under its 50 KB threshold). Node and Deno read a comment.
      js: [
        '#!/usr/bin/env node',
        '// @bun',
        'let __konsulRequire;',
        'const require = (id) => (__konsulRequire ??= ' +
          "globalThis.process.getBuiltinModule('node:module').createRequire(import.meta.url))(id);",
      ].join('\n'),
    },
  },
]);
