// ESLint for every TypeScript and Svelte file: the recommended rules of ESLint, typescript-eslint
// and eslint-plugin-svelte; the few changes below say why.
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';

export default ts.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'test-results/**'] },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      // `_`-prefixed names are deliberately unused (a destructured field left out, a callback's slot).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ['**/*.ts'],
    // `let x;` assigned later is how a closure declared earlier reaches what is made after it.
    rules: { 'prefer-const': ['error', { ignoreReadBeforeAssign: true }] },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: ts.parser } },
    rules: {
      // The window's model keeps per-frame caches (flights, names, batches) in plain Maps and
      // Sets on purpose: what the views react to is replaced whole in $state.raw fields.
      'svelte/prefer-svelte-reactivity': 'off',
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      // Tests read clients' JSON answers and assert on them: a wrong shape fails the assertion.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
