import { OCR_LANGUAGES } from '../lambdas/documents/ocr/languages.js';

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
 * Modules kept out of the bundles and shipped beside them (under
 * `node_modules/` next to the bundle), loaded on first use, each group only
 * into the bundles that refer to it:
 * - the tokenizers' BPE ranks (1.1 MB and 2.3 MB of JavaScript) would more
 *   than double the worker bundle, and its init time, for an option most
 *   tasks never use;
 * - the PDF engine (PDFium's WebAssembly, 4.6 MB, and its 0.3 MB loader):
 *   read from beside the bundle by path, compiled by the thread that first
 *   reads a PDF;
 * - the OCR engine (tesseract's WebAssembly, 3.4 MB) and its trained models
 *   (`best_int`, 0.7–4.2 MB each, gzipped): loaded by the first task that
 *   recognises a page, each language only when a task asks for it.
 */
/** The trained models shipped beside the worker: every OCR language, and the orientation model. */
const OCR_DATA_LANGUAGES = [...OCR_LANGUAGES, 'osd'];

export const LAZY_MODULE_GROUPS: ReadonlyArray<{ marker: string; modules: string[]; files: string[] }> = [
  {
    marker: 'js-tiktoken/ranks',
    modules: ['js-tiktoken/ranks/*'],
    files: [
      'js-tiktoken/package.json',
      'js-tiktoken/dist/ranks/cl100k_base.js',
      'js-tiktoken/dist/ranks/o200k_base.js',
    ],
  },
  {
    marker: '@embedpdf/pdfium',
    modules: ['@embedpdf/pdfium', '@embedpdf/pdfium/*'],
    files: [
      '@embedpdf/pdfium/package.json',
      '@embedpdf/pdfium/dist/index.js',
      '@embedpdf/pdfium/dist/pdfium.wasm',
      '@embedpdf/pdfium/LICENSE',
      '@embedpdf/pdfium/LICENSE.pdfium',
    ],
  },
  {
    marker: 'tesseract.js-core',
    modules: ['tesseract.js-core/*', '@tesseract.js-data/*'],
    files: [
      'tesseract.js-core/package.json',
      'tesseract.js-core/tesseract-core-simd.js',
      'tesseract.js-core/tesseract-core-simd.wasm',
      'tesseract.js-core/LICENSE',
      ...OCR_DATA_LANGUAGES.flatMap((language) => [
        `@tesseract.js-data/${language}/package.json`,
        `@tesseract.js-data/${language}/4.0.0_best_int/${language}.traineddata.gz`,
      ]),
    ],
  },
];

/** The import specifiers esbuild leaves out of every bundle. */
export const LAZY_MODULES = LAZY_MODULE_GROUPS.flatMap((group) => group.modules);

/** What those imports resolve to, under `node_modules/` beside a bundle that refers to them. */
export const LAZY_MODULE_FILES = LAZY_MODULE_GROUPS.flatMap((group) => group.files);

/**
 * Shell commands that copy the lazy modules' files beside a bundle, each
 * group only when the bundle refers to it (the API functions refer to none):
 * for the CDK's `afterBundling` hook.
 */
export const copyLazyModules = (projectDir: string, outputDir: string): string[] =>
  LAZY_MODULE_GROUPS.map(
    ({ marker, files }) =>
      `if grep -q '${marker}' "${outputDir}/index.mjs"; then ${files
        .map(
          (file) =>
            `mkdir -p "${outputDir}/node_modules/${file.slice(0, file.lastIndexOf('/'))}" && cp "${projectDir}/node_modules/${file}" "${outputDir}/node_modules/${file}"`,
        )
        .join(' && ')}; fi`,
  );
