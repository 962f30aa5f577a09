import mammoth from 'mammoth';
import { AppError } from '../errors.js';
import { baseMetadata, type Loader } from './types.js';
import { checkZipExpansion } from './zip-guard.js';

export const loadDocx: Loader = async (input) => {
  checkZipExpansion(input.bytes, input.limits.maxDocxUncompressedBytes);
  await input.checkpoint();
  let text: string;
  try {
    ({ value: text } = await mammoth.extractRawText({ buffer: Buffer.from(input.bytes) }));
  } catch (error) {
    throw new AppError('DOCUMENT_PARSE_ERROR', 'The DOCX file could not be read; it may be damaged.', { cause: error });
  }
  input.onProgress?.(1);
  const content = text.replace(/\r\n?/g, '\n').trim();
  return { documents: content ? [{ page_content: content, metadata: baseMetadata(input) }] : [] };
};
