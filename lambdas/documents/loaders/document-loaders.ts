import type { DocumentFormat } from '../document.js';
import type { Loader } from './types.js';

/**
 * Every loader but e-mail's, each loaded on first use, so a worker that only
 * ever sees text never loads the PDF engine (and the API functions, which never
 * parse, bundle none of them). Apart from index.ts's registry because the
 * e-mail loader reads its attachments with these: importing the registry
 * back would make an import circle.
 */
export const DOCUMENT_LOADERS: Record<Exclude<DocumentFormat, 'eml'>, () => Promise<Loader>> = {
  pdf: async () => (await import('./pdf.js')).loadPdf,
  image: async () => (await import('./image.js')).loadImage,
  docx: async () => (await import('./docx.js')).loadDocx,
  html: async () => (await import('./html.js')).loadHtml,
  text: async () => (await import('./text.js')).loadText,
  pptx: async () => (await import('./pptx.js')).loadPptx,
  xlsx: async () => (await import('./xlsx.js')).loadXlsx,
  epub: async () => (await import('./epub.js')).loadEpub,
  odt: async () => (await import('./odt.js')).loadOdt,
};
