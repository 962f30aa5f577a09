import type { DocumentFormat } from '../document.js';
import { DOCUMENT_LOADERS } from './document-loaders.js';
import type { Loader } from './types.js';

const LOADERS: Record<DocumentFormat, () => Promise<Loader>> = {
  ...DOCUMENT_LOADERS,
  eml: async () => (await import('./eml.js')).loadEml,
};

export const loaderFor = (format: DocumentFormat): Promise<Loader> => LOADERS[format]();

export type { LoadInput, Loaded, Loader } from './types.js';
