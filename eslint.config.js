// ESLint: the recommended JavaScript and typescript-eslint rules, plus a hard 120-column limit
// (Prettier wraps code at 120 but leaves long comments and strings alone).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', 'coverage/', '.konsul/', '.konsul-cluster/', '.cache/', 'tmp/', 'assembly/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2024, sourceType: 'module' },
    rules: {
      'max-len': ['error', { code: 120, ignoreUrls: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Records kept in memory by the hundred thousand and objects built per write or message: on
    // Node 20 an object literal that starts with a spread ({ ...a, b }) gets a hidden class of its
    // own each time (slow to build, a few hundred bytes more to keep). Build them field by field
    // or with Object.assign (docs/PERFORMANCE.md).
    files: [
      'core/catalog/**/*.ts',
      'core/kv/**/*.ts',
      'core/session/**/*.ts',
      'core/store/**/*.ts',
      'core/fsm/**/*.ts',
      'core/sync/**/*.ts',
      'core/replication/**/*.ts',
      'core/raft/raft.ts',
    ],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ObjectExpression > SpreadElement:first-child',
          message: 'Leading object spread gives every result its own hidden class on Node 20; build it field by field.',
        },
      ],
    },
  },
  {
    // Plain Node scripts (TypeScript files get their globals from the type checker).
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
