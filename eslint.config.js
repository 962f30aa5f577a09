import eslint from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', 'cdk.out', 'coverage', '.local-data', 'bench/results', 'test/.artifacts'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The house's floors: the runtime and the shared definitions never reach into the infrastructure (lib/),
    // the embedded stack (local/) or the tooling; shared/ reads nothing of the runtime either.
    files: ['lambdas/**/*.ts', 'shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/lib/*', '**/local/*', '**/bench/*', '**/test/*', '**/scripts/*'],
              message: 'Runtime code imports shared/ and its own folders only.',
            },
          ],
        },
      ],
    },
  },
  {
    // The document engine is a wing of its own: it imports itself, the error catalogue (lambdas/errors.ts) and
    // shared/ only, never the task service (core/, adapters/, api/, consumers/) nor the runtime's config.
    files: ['lambdas/documents/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/core/*',
                '**/adapters/*',
                '**/api/*',
                '**/consumers/*',
                '**/config.js',
                '**/observability.js',
                '**/cold-start.js',
              ],
              message: 'lambdas/documents/ imports only itself, lambdas/errors.ts and shared/.',
            },
            {
              group: ['**/lib/*', '**/local/*', '**/bench/*', '**/test/*', '**/scripts/*'],
              message: 'Runtime code imports shared/ and its own folders only.',
            },
          ],
        },
      ],
    },
  },
  {
    // Every status change is made in core/lifecycle.ts: no other module of the service calls store.transition.
    files: ['lambdas/**/*.ts', 'local/**/*.ts'],
    ignores: ['lambdas/core/lifecycle.ts', 'lambdas/core/ports.ts', 'lambdas/adapters/dynamo-task-store.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='transition']",
          message: 'Status changes belong in lambdas/core/lifecycle.ts.',
        },
      ],
    },
  },
  {
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/lambdas/*', '**/lib/*', '**/local/*'],
              message: 'shared/ is plain definitions: it imports none of the service.',
            },
          ],
        },
      ],
    },
  },
  {
    // The SDK can be published as a package of its own: Node's built-ins and its own modules only
    // (the LangChain loader's entry point adds its peer dependency, @langchain/core).
    files: ['sdk/**/*.ts'],
    ignores: ['sdk/langchain.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!node:|\\./)',
              message: 'sdk/ imports node: built-ins and its own modules only (no packages, nothing of the service).',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests read synthesized templates and JSON bodies: untyped data by nature.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], extends: [tseslint.configs.disableTypeChecked] },
);
