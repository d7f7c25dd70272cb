// The import rules of docs/ARCHITECTURE.md, checked by dependency-cruiser: `npm run depcruise` (part of `npm run
// lint`) runs it over the tree, and core/layers.test.ts shows that each rule catches what it forbids.
// core/purity.test.ts checks what imports cannot show: runtime globals such as process or Date.now.

/** Packages core/ may import: pure libraries with no runtime API (the list in core/purity.test.ts). */
const ALLOWED_PACKAGES = ['hono', '@msgpack/msgpack', 'jose', 'ipaddr.js', 'sorted-btree', '@noble/hashes'];

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No import cycle between files, type-only imports included: move the shared type or function down to a ' +
        'module both can import, or invert the dependency through an interface the lower module owns.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-circular-core-folders',
      severity: 'error',
      comment:
        "core/'s folders are modules stacked in layers (ports and util at the bottom, api at the top): no folder " +
        'may depend on a folder that depends back on it, even when no single file closes the loop.',
      scope: 'folder',
      from: { path: '^core/' },
      to: { path: '^core/', circular: true },
    },
    {
      name: 'core-imports-only-core',
      severity: 'error',
      comment: `core/ is runtime-portable: it imports only core/ and the pure packages ${ALLOWED_PACKAGES.join(', ')}.`,
      from: { path: '^core/' },
      to: { pathNot: ['^core/', ...ALLOWED_PACKAGES.map((name) => `^node_modules/${name}/`)] },
    },
    {
      name: 'server-not-to-edge',
      severity: 'error',
      comment: 'server/ and edge/ are separate programs: what both need lives in core/ or runtimes/.',
      from: { path: '^server/' },
      to: { path: '^edge/' },
    },
    {
      name: 'edge-not-to-server',
      severity: 'error',
      comment: 'server/ and edge/ are separate programs: what both need lives in core/ or runtimes/.',
      from: { path: '^edge/' },
      to: { path: '^server/' },
    },
    {
      name: 'bench-only-from-bench',
      severity: 'error',
      comment: 'Benchmarks are not part of the product: only other benchmarks (and tests) import bench/.',
      from: { pathNot: '^bench/' },
      to: { path: '^bench/' },
    },
    {
      name: 'cli-on-top',
      severity: 'error',
      comment:
        'cli/ is the top: it parses flags into the configs that server/ and edge/ define, and starts them. ' +
        'Nothing it starts imports it back.',
      from: { pathNot: ['^cli/', '^testing/', '^bench/'] },
      to: { path: '^cli/' },
    },
    {
      name: 'testing-only-from-tests',
      severity: 'error',
      comment: 'testing/ is test support: the product (core, server, edge, runtimes, cli) never imports it.',
      from: { pathNot: ['^testing/', '^bench/'] },
      to: { path: '^testing/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'An import the cruiser cannot resolve has no edge, so every rule above would miss it.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Tests and their support next to the ports (contract suites, test vectors) are left out: they may
    // cross layers (core tests use node:fs and the simulator), and their imports would join core/'s
    // folders into cycles that the product code does not have.
    // Imports of packages stay in (core-imports-only-core needs them); the packages' own imports are not followed.
    exclude: { path: ['^dist/', '\\.test\\.ts$', '\\.contract\\.ts$', '\\.vectors\\.ts$'] },
    doNotFollow: { path: ['node_modules'] },
    // Type-only imports are dependencies too: a cycle through `import type` is still a cycle.
    tsPreCompilationDeps: true,
    // Resolves the './x.js' specifiers of the sources (moduleResolution Bundler) to the x.ts files.
    tsConfig: { fileName: 'tsconfig.json' },
    // Packages resolve as Node and TypeScript resolve them: through `exports`, to code or to type declarations.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
