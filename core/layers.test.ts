import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cruise, type ICruiseOptions, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The import rules of .dependency-cruiser.mjs (which `npm run lint` checks over the tree), run through
// dependency-cruiser's API: over the real tree, and over a small tree of fixtures with one violation of each rule.

const repo = join(import.meta.dirname, '..');

/** The packages core/purity.test.ts lets core/ import, read from its source so the two lists cannot drift apart. */
function purityAllowedPackages(): string[] {
  const source = readFileSync(join(import.meta.dirname, 'purity.test.ts'), 'utf8');
  const list = /const ALLOWED_PACKAGES = \[([^\]]*)\]/.exec(source)?.[1];
  if (list === undefined) throw new Error('ALLOWED_PACKAGES not found in core/purity.test.ts');
  return [...list.matchAll(/'([^']+)'/g)].map((m) => m[1] as string);
}

/** One violation per rule (and a few imports that are allowed), as files relative to the fixture root. */
function fixtures(): Record<string, string> {
  const allowed = purityAllowedPackages();
  return {
    // A cycle of two files through type-only imports: still a cycle.
    'core/cycle-a.ts': "import type { B } from './cycle-b.js';\nexport interface A { b?: B }\n",
    'core/cycle-b.ts': "import type { A } from './cycle-a.js';\nexport interface B { a?: A }\n",
    // core/x and core/y depend on each other, though no single file closes the loop.
    'core/x/one.ts': "export { two } from '../y/two.js';\n",
    'core/x/four.ts': 'export const four = 4;\n',
    'core/y/two.ts': 'export const two = 2;\n',
    'core/y/three.ts': "export { four } from '../x/four.js';\n",
    // core/ imports a runtime API and a runtime-bound package; the pure packages are fine.
    'core/impure.ts':
      "import { readFileSync } from 'node:fs';\n" +
      "import { open } from 'lmdb';\n" +
      'export const all = [readFileSync, open];\n',
    'core/pure.ts':
      allowed.map((name, i) => `import * as p${i} from '${name}';\n`).join('') +
      `export const all = [${allowed.map((_, i) => `p${i}`).join(', ')}];\n`,
    // Tests are not cruised: a core test may use node:fs.
    'core/impure.test.ts': "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n",
    'server/main.ts': "import { agent } from '../edge/agent.js';\nexport const main = agent;\n",
    'edge/agent.ts': 'export const agent = 1;\n',
    'edge/uses-server.ts': "import { main } from '../server/main.js';\nexport const uses = main;\n",
    'bench/figures.ts': 'export const figures = 1;\n',
    'bench/report.ts': "import { figures } from './figures.js';\nexport const report = figures;\n",
    'runtimes/uses-bench.ts': "import { figures } from '../bench/figures.js';\nexport const uses = figures;\n",
    'runtimes/broken.ts': "import { gone } from './missing.js';\nexport const broken = gone;\n",
  };
}

async function options(): Promise<ICruiseOptions> {
  return extractDepcruiseOptions(join(repo, '.dependency-cruiser.mjs'));
}

async function run(paths: string[], opts: ICruiseOptions): Promise<ICruiseResult> {
  const { output } = await cruise(paths, opts, {}, { tsConfig: extractTSConfig(join(repo, 'tsconfig.json')) });
  if (typeof output === 'string') throw new Error(`expected a cruise result, got: ${output}`);
  return output;
}

describe('layer rules (.dependency-cruiser.mjs)', () => {
  it('the tree breaks none of them', async () => {
    // The same paths `npm run depcruise` checks.
    const script = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
      .scripts['depcruise'];
    const paths = (script ?? '').split(' ').slice(1);
    expect(paths).toContain('core');
    const result = await run(paths, { ...(await options()), baseDir: repo });
    expect(result.summary.totalCruised).toBeGreaterThan(100);
    expect(result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  });

  describe('each rule catches what it forbids', () => {
    let root = '';
    let result: ICruiseResult;
    const reported = (rule: string): string[] =>
      result.summary.violations.filter((v) => v.rule.name === rule).map((v) => `${v.from} → ${v.to}`);

    beforeAll(async () => {
      root = mkdtempSync(join(tmpdir(), 'konsul-layers-'));
      for (const [path, text] of Object.entries(fixtures())) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), text);
      }
      // The packages resolve through a link to the repository's node_modules, kept as node_modules/<name>.
      symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
      result = await run(['core', 'server', 'edge', 'runtimes', 'bench'], {
        ...(await options()),
        baseDir: root,
        preserveSymlinks: true,
      });
    });

    afterAll(() => {
      if (!root) return;
      unlinkSync(join(root, 'node_modules'));
      rmSync(root, { recursive: true, force: true });
    });

    it('a cycle of files, also one through type-only imports', () => {
      expect(reported('no-circular')).toEqual(['core/cycle-a.ts → core/cycle-b.ts']);
    });

    it('two folders of core/ that depend on each other', () => {
      expect(reported('no-circular-core-folders')).toEqual(['core/x → core/y', 'core/y → core/x']);
    });

    it('core/ importing a runtime API or a package other than the pure ones', () => {
      expect(reported('core-imports-only-core')).toEqual([
        'core/impure.ts → fs',
        expect.stringMatching(/^core\/impure\.ts → node_modules\/lmdb\//),
      ]);
    });

    it('server/ and edge/ importing each other', () => {
      expect(reported('server-not-to-edge')).toEqual(['server/main.ts → edge/agent.ts']);
      expect(reported('edge-not-to-server')).toEqual(['edge/uses-server.ts → server/main.ts']);
    });

    it('anything but a benchmark importing bench/', () => {
      expect(reported('bench-only-from-bench')).toEqual(['runtimes/uses-bench.ts → bench/figures.ts']);
    });

    it('an import that does not resolve', () => {
      expect(reported('no-unresolvable')).toEqual(['runtimes/broken.ts → ./missing.js']);
    });

    it('nothing else: the pure packages, bench/ from bench/ and tests pass, and every violation is an error', () => {
      expect(result.summary.violations).toHaveLength(9);
      expect(result.summary.error).toBe(9);
      const sources = result.modules.map((m) => m.source);
      expect(sources).toContain('core/pure.ts');
      expect(sources).not.toContain('core/impure.test.ts');
      const pure = result.modules.find((m) => m.source === 'core/pure.ts');
      expect(pure?.dependencies.map((d) => d.module).sort()).toEqual(purityAllowedPackages().sort());
    });
  });
});
