import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** Packages core/ may import: pure libraries with no runtime API of their own. */
const ALLOWED_PACKAGES = ['hono', '@msgpack/msgpack', 'jose', 'ipaddr.js', 'sorted-btree', '@noble/hashes'];
/** Globals that belong to a runtime, not to the language. */
const FORBIDDEN_GLOBALS = new Set([
  'process',
  'Deno',
  'Bun',
  'Buffer',
  'require',
  'fetch',
  'global',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'clearImmediate',
  'queueMicrotask',
  'performance',
  'crypto',
  '__dirname',
  '__filename',
]);
const FORBIDDEN_MEMBERS = new Set(['Date.now', 'Math.random', 'globalThis.process', 'import.meta']);

/** Every runtime-API use in `source`, as "line: what". */
export function findRuntimeApiUses(fileName: string, source: string): string[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const at = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      const spec = node.moduleSpecifier.text;
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (!spec.startsWith('.') && !ALLOWED_PACKAGES.includes(pkg as string)) found.push(`${at(node)}: import ${spec}`);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      found.push(`${at(node)}: dynamic import()`);
    }
    if (ts.isPropertyAccessExpression(node) || ts.isMetaProperty(node)) {
      const text = node.getText(sf);
      if (FORBIDDEN_MEMBERS.has(text)) found.push(`${at(node)}: ${text}`);
    }
    if (ts.isIdentifier(node) && FORBIDDEN_GLOBALS.has(node.text)) {
      const p = node.parent;
      const isMemberName =
        (ts.isPropertyAccessExpression(p) && p.name === node) ||
        (ts.isPropertyAssignment(p) && p.name === node) ||
        (ts.isMethodDeclaration(p) && p.name === node) ||
        (ts.isPropertySignature(p) && p.name === node) ||
        (ts.isMethodSignature(p) && p.name === node) ||
        (ts.isPropertyDeclaration(p) && p.name === node);
      if (!isMemberName) found.push(`${at(node)}: ${node.text}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** Contract suites (`core/ports/*.contract.ts`): test support that sits next to its port and imports vitest. */
const isContract = (path: string): boolean => path.endsWith('.contract.ts');

/** Every .ts file under `dir` except tests (`*.test.ts`). */
function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

/** The relative imports of `source` (in `file`), as absolute .ts paths. */
function relativeImports(file: string, source: string): string[] {
  const specs = [...source.matchAll(/(?:from|import)\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1] as string);
  return specs.map((spec) => join(dirname(file), spec.replace(/\.js$/, '.ts')));
}

/**
 * The simulator must be as deterministic as the core it checks: every file of `testing/sim/` and
 * every file of `testing/` it imports, directly or not (core/ is scanned on its own).
 */
function simulatorFiles(testingDir: string): string[] {
  const seen = new Set<string>();
  const todo = tsFiles(join(testingDir, 'sim'));
  while (todo.length > 0) {
    const f = todo.pop() as string;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const dep of relativeImports(f, readFileSync(f, 'utf8'))) {
      if (dep.startsWith(testingDir + sep) && !seen.has(dep)) todo.push(dep);
    }
  }
  return [...seen];
}

describe('core/ is runtime-portable', () => {
  // Contract suites are test support, not sources: they are left out of this scan (they import
  // vitest) and checked by the next test instead.
  it('no non-test file under core/ imports or uses a runtime API', () => {
    const root = import.meta.dirname;
    const files = tsFiles(root).filter((f) => !isContract(f));
    expect(files.length).toBeGreaterThan(10);
    const violations = files.flatMap((f) =>
      findRuntimeApiUses(f, readFileSync(f, 'utf8')).map((v) => `${relative(root, f)}:${v}`),
    );
    expect(violations).toEqual([]);
  });

  it('contract suites under core/ import vitest and otherwise use no runtime API either', () => {
    const root = import.meta.dirname;
    const files = tsFiles(root).filter(isContract);
    expect(files.length).toBeGreaterThan(0);
    const violations = files.flatMap((f) =>
      findRuntimeApiUses(f, readFileSync(f, 'utf8'))
        .filter((v) => !/^\d+: import vitest$/.test(v))
        .map((v) => `${relative(root, f)}:${v}`),
    );
    expect(violations).toEqual([]);
  });

  it('the simulator (testing/sim/ and what it imports from testing/) uses no runtime API either', () => {
    const testingDir = join(import.meta.dirname, '..', 'testing');
    const files = simulatorFiles(testingDir);
    // The simulator, its checkers, and the linearizability checker and seeded Rng it imports.
    expect(files.map((f) => relative(testingDir, f))).toEqual(
      expect.arrayContaining(['sim/simulator.ts', 'sim/sim-node.ts', 'linearizability.ts', 'seeded-rng.ts']),
    );
    const violations = files.flatMap((f) =>
      findRuntimeApiUses(f, readFileSync(f, 'utf8')).map((v) => `${relative(testingDir, f)}:${v}`),
    );
    expect(violations).toEqual([]);
  });

  it('the checker catches each kind of violation', () => {
    const bad = [
      "import { readFile } from 'node:fs';",
      "import x from 'lmdb';",
      "export * from 'node:path';",
      'const t = Date.now();',
      'const r = Math.random();',
      'setTimeout(() => {}, 1);',
      'const e = process.env;',
      'const b = Buffer.from("x");',
      'Deno.exit(0);',
      'Bun.serve({});',
      'await fetch("http://x");',
      'const m = await import("./x.js");',
      'const u = import.meta.url;',
    ];
    for (const line of bad) expect(findRuntimeApiUses('bad.ts', line), line).toHaveLength(1);
  });

  it('the checker allows pure code, allowed packages and same-named members', () => {
    const good = [
      "import { Hono } from 'hono';",
      "import { encode } from '@msgpack/msgpack';",
      "import { x } from './local.js';",
      'const o = { process: 1, setTimeout() {} }; o.process; o.setTimeout();',
      'interface P { fetch(): void; Buffer: number }',
      'const d = new Date(0).toISOString();',
      "const s = 'process.env and Date.now() in a string';",
      '// setTimeout in a comment',
    ];
    for (const line of good) expect(findRuntimeApiUses('good.ts', line), line).toEqual([]);
  });
});
