import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', '.quantaseal/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // `return promise` inside try/catch skips the catch when the promise rejects: a rerun on the
    // write pool was lost that way once. Only this rule needs type information.
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/return-await': ['error', 'in-try-catch'] },
  },
  {
    // The client must never reach into the server (DESIGN §2).
    files: ['src/client/**', 'src/protocol/**', 'src/crypto/**', 'src/adapters/**', 'src/index.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/server/**', '../server', '../server/*'], message: 'client/protocol/crypto must not import server code' }] }],
    },
  },
);
