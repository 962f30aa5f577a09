import { AppError } from '../../errors.js';
import { charsetOf, decodeText } from '../encoding.js';
import type { ProcessingLimits } from '../limits.js';
import { baseMetadata, type Loader } from './types.js';

export const checkTextSize = (bytes: Uint8Array, limits: ProcessingLimits, kind: string): void => {
  if (bytes.length > limits.maxTextBytes) {
    throw new AppError(
      'DOCUMENT_TOO_LARGE',
      `The ${kind} file is ${bytes.length} bytes; the limit is ${limits.maxTextBytes}.`,
    );
  }
};

/** Plain text, Markdown, CSV and JSON: one document, newlines normalised to `\n`. */
export const loadText: Loader = async (input) => {
  checkTextSize(input.bytes, input.limits, 'text');
  const { text, encoding } = decodeText(input.bytes, { declaredCharset: charsetOf(input.contentType) });
  input.onProgress?.(1);
  const content = text.replace(/\r\n?/g, '\n');
  if (!content.trim()) return { documents: [] };
  return { documents: [{ page_content: content, metadata: { ...baseMetadata(input), encoding } }] };
};
