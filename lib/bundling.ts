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

/**
 * Modules kept out of the bundles and shipped beside them, loaded on first
 * use: the tokenizers' BPE ranks (1.1 MB and 2.3 MB of JavaScript) would
 * more than double the worker bundle, and its init time, for an option most
 * tasks never use.
 */
export const LAZY_MODULES = ['js-tiktoken/ranks/*'];

/** What those imports resolve to, under `node_modules/` beside a bundle that refers to them. */
export const LAZY_MODULE_FILES = [
  'js-tiktoken/package.json',
  'js-tiktoken/dist/ranks/cl100k_base.js',
  'js-tiktoken/dist/ranks/o200k_base.js',
];

/**
 * Shell commands that copy the lazy modules' files beside a bundle, when the
 * bundle refers to them (the API functions do not): for the CDK's
 * `afterBundling` hook.
 */
export const copyLazyModules = (projectDir: string, outputDir: string): string[] => [
  `if grep -q 'js-tiktoken/ranks' "${outputDir}/index.mjs"; then ${LAZY_MODULE_FILES.map(
    (file) =>
      `mkdir -p "${outputDir}/node_modules/${file.slice(0, file.lastIndexOf('/'))}" && cp "${projectDir}/node_modules/${file}" "${outputDir}/node_modules/${file}"`,
  ).join(' && ')}; fi`,
];
