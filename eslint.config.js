import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // validate.generated.ts is ajv's output (npm run docs), not hand-written code.
  { ignores: ['dist/**', 'node_modules/**', 'src/inventory/validate.generated.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
);
