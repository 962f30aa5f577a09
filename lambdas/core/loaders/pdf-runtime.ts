/**
 * What pdf.js needs before it loads, so that a lone bundle works on any CPU
 * architecture:
 * - `DOMMatrix`: pdf.js evaluates it at import time and otherwise borrows it
 *   from the native, per-platform `@napi-rs/canvas`. Text extraction draws
 *   nothing, so a pure-JS matrix is enough.
 * - `pdfjsWorker`: pdf.js would import `pdf.worker.mjs` by path at run time;
 *   handing it the module makes the bundle self-contained. It must be the same
 *   pdfjs-dist version pdf-parse was built with (a unit test checks).
 */
import CSSMatrix from '@thednp/dommatrix';
import * as pdfjsWorker from 'pdfjs-dist/legacy/build/pdf.worker.mjs';

const scope = globalThis as { DOMMatrix?: unknown; pdfjsWorker?: unknown };
scope.DOMMatrix ??= CSSMatrix;
scope.pdfjsWorker ??= pdfjsWorker;
