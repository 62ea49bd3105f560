// Lint config: eslint's recommended rules and typescript-eslint's type-checked recommended and
// stylistic sets, with a few rules from its strict set that fit this code; the TypeScript sources
// are the ones tsconfig.json compiles.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'var/', 'test-output/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // T[] for simple element types, Array<...> where the element is an object or function type.
      '@typescript-eslint/array-type': ['error', { default: 'array-simple' }],
      // An empty arrow is the code's deliberate "ignore": best-effort cleanup (.catch(() => {})) and no-op default callbacks.
      '@typescript-eslint/no-empty-function': 'off',
      // A leading underscore marks a name kept on purpose (an unused parameter, a field dropped from a rest copy).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // `||` is deliberate where an empty string or a zero must fall back too; `??` is asked for on objects.
      '@typescript-eslint/prefer-nullish-coalescing': ['error', { ignorePrimitives: { string: true, number: true } }],
      // A rejection may pass on a reason it was handed (an abort reason, a caught error) as it is, as `throw` may.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // From the strict set: a rejection's reason is unknown, as tsconfig's strict makes a catch clause's variable.
      '@typescript-eslint/use-unknown-in-catch-callback-variable': 'error',
      '@typescript-eslint/no-unnecessary-type-conversion': 'error',
      '@typescript-eslint/no-meaningless-void-operator': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  // This file is JavaScript outside tsconfig.json: lint it without type information.
  { files: ['**/*.js'], extends: [tseslint.configs.disableTypeChecked] },
);
