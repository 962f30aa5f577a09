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
  pptx: async () => (await import('./pptx.js')).loadPptx,
  xlsx: async () => (await import('./xlsx.js')).loadXlsx,
  epub: async () => (await import('./epub.js')).loadEpub,
  odt: async () => (await import('./odt.js')).loadOdt,
  eml: async () => (await import('./eml.js')).loadEml,
};

export const loaderFor = (format: DocumentFormat): Promise<Loader> => LOADERS[format]();

export type { LoadInput, Loaded, Loader } from './types.js';
