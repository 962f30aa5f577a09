import { AppError } from '../errors.js';

/**
 * `multipart/form-data` (RFC 7578) for a body that API Gateway has already
 * delivered whole.
 *
 * Written here rather than taken from busboy (through middy's parser) for two
 * measured reasons: busboy parses a stream, and its stream error paths were
 * what ended the process (a 75-byte body without its closing boundary threw
 * outside the handler's promise); and it drops a file part's `charset`, which
 * the text loaders need. On a buffer the framing is a few `indexOf` calls; the
 * whole parse is synchronous, so any failure is a 400 thrown in the handler.
 * A differential test checks it against busboy on generated bodies, and the
 * fuzz harness throws mutated bodies at it.
 */
export interface MultipartLimits {
  /** Parts of any kind. */
  maxParts: number;
  /** Files among them. */
  maxFiles: number;
  /** Bytes of a non-file field's value. */
  maxFieldBytes: number;
  /** Bytes of a file's content: above it, `onFileTooLarge` decides what to throw. */
  maxFileBytes: number;
  /** Bytes of one part's header block. */
  maxHeaderBytes: number;
}

export interface MultipartFile {
  filename: string;
  /** The part's Content-Type as sent, parameters (charset) included; undefined when absent. */
  contentType: string | undefined;
  content: Buffer;
}

export interface MultipartBody {
  fields: Record<string, string>;
  files: Record<string, MultipartFile>;
}

const CRLF = Buffer.from('\r\n');

/** `type/subtype` and parameters, printable ASCII only (it is stored as the object's Content-Type). */
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:\s*;[\x20-\x7e]*)?$/;
const HEADER_END = Buffer.from('\r\n\r\n');

const invalid = (message: string) =>
  new AppError('VALIDATION_ERROR', `Malformed multipart body: ${message}`, {
    details: [{ field: 'body', message }],
  });

/** `boundary` of a `multipart/form-data` content type (RFC 2046: 1–70 characters, maybe quoted). */
export const boundaryOf = (contentType: string): string => {
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))\s*(?:;|$)/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) throw invalid('the Content-Type has no valid boundary parameter.');
  return boundary;
};

/** One `name="value"` / `name*=charset'lang'value` parameter list (RFC 6266, RFC 5987), UTF-8 as browsers send it. */
const parseParameters = (text: string): Map<string, string> => {
  const parameters = new Map<string, string>();
  const pattern = /;\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/gy;
  let at = 0;
  for (;;) {
    pattern.lastIndex = at;
    const match = pattern.exec(text);
    if (!match) break;
    at = pattern.lastIndex;
    const name = (match[1] as string).toLowerCase();
    let value = match[2] === undefined ? (match[3] ?? '') : match[2].replace(/\\(.)/g, '$1');
    if (name.endsWith('*')) {
      const extended = /^([\w!#$%&+^`{}~-]*)'[^']*'(.*)$/.exec(value);
      if (!extended) throw invalid(`the ${name} parameter is not an RFC 5987 value.`);
      try {
        value = new TextDecoder(extended[1] || 'utf-8', { fatal: true }).decode(percentDecode(extended[2] ?? ''));
      } catch {
        throw invalid(`the ${name} parameter cannot be decoded.`);
      }
      parameters.set(name.slice(0, -1), value);
      continue;
    }
    if (parameters.has(name)) throw invalid(`the ${name} parameter is given twice.`);
    if (!parameters.has(`${name}*`)) parameters.set(name, value);
  }
  if (text.slice(at).trim()) throw invalid('a Content-Disposition parameter cannot be read.');
  return parameters;
};

const percentDecode = (text: string): Uint8Array => {
  const bytes: number[] = [];
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (char === 0x25 && /^[0-9a-f]{2}$/i.test(text.slice(index + 1, index + 3))) {
      bytes.push(parseInt(text.slice(index + 1, index + 3), 16));
      index += 2;
    } else if (char < 0x80) {
      bytes.push(char);
    } else {
      throw invalid('an RFC 5987 value holds a non-ASCII character.');
    }
  }
  return Uint8Array.from(bytes);
};

interface PartHeaders {
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
}

const parseHeaders = (block: Buffer): PartHeaders => {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(block);
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw invalid('a part header line has no name.');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-disposition') {
      if (disposition !== undefined) throw invalid('a part has two Content-Disposition headers.');
      disposition = value;
    } else if (name === 'content-type') {
      if (contentType !== undefined) throw invalid('a part has two Content-Type headers.');
      if (value && !MEDIA_TYPE.test(value)) throw invalid(`a part's Content-Type is not a media type.`);
      contentType = value || undefined;
    }
  }
  if (disposition === undefined) throw invalid('a part has no Content-Disposition header.');
  const type = /^form-data\s*(?=;|$)/i.exec(disposition);
  if (!type) throw invalid('a part is not form-data.');
  const parameters = parseParameters(disposition.slice(type[0].length));
  const name = parameters.get('name');
  if (!name) throw invalid('a part has no name.');
  return { name, filename: parameters.get('filename'), contentType };
};

/**
 * Fields and files of a whole body. Every malformation, a missing closing
 * boundary included, is a 400 VALIDATION_ERROR; a field given twice is one
 * too (no silent last-one-wins), and so is any part beyond the limits.
 */
export const parseMultipart = (
  body: Buffer,
  contentType: string,
  limits: MultipartLimits,
  onFileTooLarge: () => Error,
): MultipartBody => {
  const delimiter = Buffer.from(`--${boundaryOf(contentType)}`);
  const separator = Buffer.concat([CRLF, delimiter]);
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  const files: Record<string, MultipartFile> = Object.create(null) as Record<string, MultipartFile>;
  const seen = new Set<string>();

  // The first delimiter opens the body (what comes before it is a preamble, ignored).
  const first = body.indexOf(delimiter);
  if (first === -1 || (first > 0 && body.lastIndexOf(CRLF, first) !== first - 2)) {
    throw invalid('the body does not start with the boundary.');
  }
  let cursor = first + delimiter.length;
  let parts = 0;
  for (;;) {
    if (body.subarray(cursor, cursor + 2).equals(Buffer.from('--'))) return { fields, files };
    if (!body.subarray(cursor, cursor + 2).equals(CRLF)) throw invalid('a boundary is not followed by a line break.');
    cursor += 2;
    if (++parts > limits.maxParts) throw invalid(`more than ${limits.maxParts} parts.`);

    const headerEnd = body.indexOf(HEADER_END, cursor);
    if (headerEnd === -1 || headerEnd - cursor > limits.maxHeaderBytes) {
      throw invalid(headerEnd === -1 ? 'a part has no end to its headers.' : 'a part has headers that are too long.');
    }
    const headers = parseHeaders(body.subarray(cursor, headerEnd));
    const contentStart = headerEnd + HEADER_END.length;
    const contentEnd = body.indexOf(separator, contentStart);
    if (contentEnd === -1) throw invalid('the body ends before its closing boundary (truncated?).');
    const content = body.subarray(contentStart, contentEnd);
    cursor = contentEnd + separator.length;

    if (seen.has(headers.name)) throw invalid(`${headers.name} is given more than once; send each field once.`);
    seen.add(headers.name);
    if (headers.filename !== undefined) {
      if (Object.keys(files).length >= limits.maxFiles) throw invalid(`more than ${limits.maxFiles} files.`);
      if (content.length > limits.maxFileBytes) throw onFileTooLarge();
      files[headers.name] = { filename: headers.filename, contentType: headers.contentType, content };
    } else {
      if (content.length > limits.maxFieldBytes) {
        throw invalid(`the value of ${headers.name} is longer than ${limits.maxFieldBytes} bytes.`);
      }
      fields[headers.name] = content.toString('utf8');
    }
  }
};
