import type { DocumentFormat } from '../document.js';
import type { Loader } from './types.js';

/**
 * Parsers load on first use, so a worker that only ever sees text never pays
 * for pdf.js (and the API functions, which never parse, bundle none of them).
 */
const LOADERS: Record<DocumentFormat, () => Promise<Loader>> = {
  pdf: async () => (await import('./pdf.js')).loadPdf,
  docx: async () => (await import('./docx.js')).loadDocx,
  html: async () => (await import('./html.js')).loadHtml,
  text: async () => (await import('./text.js')).loadText,
};

export const loaderFor = (format: DocumentFormat): Promise<Loader> => LOADERS[format]();

export type { LoadInput, Loaded, Loader } from './types.js';
