/**
 * esbuild settings shared by the CDK functions, the artifact test and the
 * benchmark, so that what is tested and measured is what would be deployed.
 */
export const BUNDLE_TARGET = 'node24';

/**
 * ESM output; CommonJS dependencies bundled into it still call `require` for
 * Node built-ins, so the bundle defines one.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";
