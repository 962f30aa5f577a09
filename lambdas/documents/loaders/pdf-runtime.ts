/**
 * What pdf.js needs before it loads, so that a lone bundle works on any CPU
 * architecture:
 * - `DOMMatrix`: pdf.js evaluates it at import time and otherwise borrows it
 *   from the native, per-platform `@napi-rs/canvas`. Text extraction draws
 *   nothing, so a pure-JS matrix is enough.
 * - `ImageData`, `Path2D`: the same package's, for drawing only; empty
 *   stand-ins keep pdf.js from loading it (and from printing a non-JSON
 *   warning per thread at every cold start, patches/pdfjs-dist+…patch).
 * - `pdfjsWorker`: pdf.js would import `pdf.worker.mjs` by path at run time;
 *   handing it the module makes the bundle self-contained. It must be the same
 *   pdfjs-dist version pdf-parse was built with (a unit test checks).
 */
import CSSMatrix from '@thednp/dommatrix';
import * as pdfjsWorker from 'pdfjs-dist/legacy/build/pdf.worker.mjs';

const scope = globalThis as { DOMMatrix?: unknown; ImageData?: unknown; Path2D?: unknown; pdfjsWorker?: unknown };
scope.DOMMatrix ??= CSSMatrix;
scope.ImageData ??= class ImageData {};
scope.Path2D ??= class Path2D {};
scope.pdfjsWorker ??= pdfjsWorker;
