// ESLint flat config: type-aware rules for promises, and the workflow sandbox's import rules.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', '.tools/**', 'bin/**', 'eslint.config.mjs'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // A handler closure may read a `let` that the workflow body assigns later.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Route specs are heterogeneous by design; their own schemas type each handler.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, and activities
    // are reached only through proxyActivities with a type-only import.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Node built-ins are not allowed in workflow code.' },
            {
              group: ['../activities', '../activities/*'],
              allowTypeImports: true,
              message: 'Import activities as types only; call them through proxyActivities.',
            },
            {
              group: ['../lib/db', '../lib/store', '../lib/config'],
              message: 'No I/O in workflows.',
            },
          ],
          paths: [
            'fs',
            'path',
            'os',
            'crypto',
            'child_process',
            'http',
            'https',
            'net',
            'pg',
            'knex',
          ].map((name) => ({
            name,
            message: 'Node built-ins and I/O libraries are not allowed in workflow code.',
          })),
        },
      ],
    },
  },
);
