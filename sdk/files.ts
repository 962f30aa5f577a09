import { extname } from 'node:path';

/**
 * Media types by extension, for the formats the service reads. The service
 * trusts the bytes first (magic numbers), so this is a hint; it matters most
 * for text formats, where bytes say little.
 */
const MEDIA_TYPES: Record<string, string> = {
  '.pdf': 'application/pdf',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.pptx': 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.odt': 'application/vnd.oasis.opendocument.text',
  '.epub': 'application/epub+zip',
  '.eml': 'message/rfc822',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.markdown': 'text/markdown',
  '.csv': 'text/csv',
  '.json': 'application/json',
};

export const DEFAULT_MEDIA_TYPE = 'application/octet-stream';

export const mediaTypeOf = (filename: string): string =>
  MEDIA_TYPES[extname(filename).toLowerCase()] ?? DEFAULT_MEDIA_TYPE;
