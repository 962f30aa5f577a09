import { AppError } from './errors.js';
import type { DocumentFormat } from './document.js';
import { decodeText } from './encoding.js';

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (char) => char.charCodeAt(0));

const indexOfBytes = (bytes: Uint8Array, needle: Uint8Array, from = 0, to = bytes.length): number =>
  Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(to, bytes.length)).indexOf(needle, from);

const startsWith = (bytes: Uint8Array, prefix: readonly number[]): boolean =>
  prefix.every((byte, index) => bytes[index] === byte);

/** Binary formats we recognise only to refuse them with a useful message. */
const REFUSED_MAGIC: ReadonlyArray<[readonly number[], string]> = [
  [[0xd0, 0xcf, 0x11, 0xe0], 'a legacy Office (OLE2) file such as .doc or .xls; save it as DOCX or PDF'],
  [[0x89, 0x50, 0x4e, 0x47], 'a PNG image; images would need OCR, which this service does not do'],
  [[0xff, 0xd8, 0xff], 'a JPEG image; images would need OCR, which this service does not do'],
  [[0x47, 0x49, 0x46, 0x38], 'a GIF image; images would need OCR, which this service does not do'],
  [[0x49, 0x49, 0x2a, 0x00], 'a TIFF image; images would need OCR, which this service does not do'],
  [[0x4d, 0x4d, 0x00, 0x2a], 'a TIFF image; images would need OCR, which this service does not do'],
  [[0x1f, 0x8b], 'a gzip archive; upload the document itself'],
  [[0x7b, 0x5c, 0x72, 0x74, 0x66], 'an RTF file; save it as DOCX or PDF'],
];

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const PDF_MAGIC = ascii('%PDF-');
/**
 * Zip-based formats by a part only they have (as named in the archive's
 * headers), or by the `mimetype` first entry OpenDocument and EPUB store
 * uncompressed at the start.
 */
const ZIP_FORMATS: ReadonlyArray<[Uint8Array, DocumentFormat]> = [
  [ascii('word/document.xml'), 'docx'],
  [ascii('ppt/presentation.xml'), 'pptx'],
  [ascii('xl/workbook.xml'), 'xlsx'],
  [ascii('mimetypeapplication/epub+zip'), 'epub'],
  [ascii('mimetypeapplication/vnd.oasis.opendocument.text'), 'odt'],
];
const OTHER_ZIP_PARTS: ReadonlyArray<[Uint8Array, string]> = [
  [
    ascii('mimetypeapplication/vnd.oasis.opendocument'),
    'an OpenDocument spreadsheet or presentation (save it as XLSX or PPTX)',
  ],
];

const HTML_TAG = /<(?:!doctype\s+html|html|head|body|title|meta)\b/iy;
const WHITESPACE = /\s*/y;

/**
 * Markup that can only be HTML at the start of the text, after whitespace, an
 * XML declaration and comments. A scan with one forward pass: a regular
 * expression that repeats comment groups backtracks exponentially on
 * `<!---->` repeated (351 bytes kept a worker busy for its whole timeout).
 */
const looksLikeHtml = (head: string): boolean => {
  const skipSpace = (at: number): number => {
    WHITESPACE.lastIndex = at;
    WHITESPACE.test(head);
    return WHITESPACE.lastIndex;
  };
  let at = skipSpace(0);
  if (head.startsWith('<?xml', at)) {
    const end = head.indexOf('>', at);
    if (end === -1) return false;
    at = skipSpace(end + 1);
  }
  while (head.startsWith('<!--', at)) {
    const end = head.indexOf('-->', at + 4);
    if (end === -1) return false;
    at = skipSpace(end + 3);
  }
  HTML_TAG.lastIndex = at;
  return HTML_TAG.test(head);
};

/** Header fields that mark a message: RFC 5322's, MIME's and the trace fields a mail server adds. */
const MAIL_FIELDS = new Set(['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'received', 'return-path']);
/** A header field's name (printable ASCII but the colon), then the colon. */
const FIELD_LINE = /^([!-9;-~]+)[ \t]*:/;
/** Where a message's header block must end: long Received and DKIM chains run to tens of KB. */
const MAIL_HEAD_BYTES = 64 * 1024;

/**
 * An e-mail (RFC 5322): from the first line, header fields (folded lines
 * allowed) up to an empty line, with at least two of the fields only mail
 * has. Text that merely opens with `Subject: …` has one, or prose after it
 * before any empty line, and stays text.
 */
const looksLikeEmail = (bytes: Uint8Array): boolean => {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, MAIL_HEAD_BYTES)).toString('latin1');
  const fields = new Set<string>();
  for (let at = 0, first = true; ; first = false) {
    const end = head.indexOf('\n', at);
    if (end === -1) return false;
    const line = head.slice(at, head[end - 1] === '\r' ? end - 1 : end);
    at = end + 1;
    if (line === '') return fields.size >= 2;
    // A folded line continues the field above it; the first line has none above.
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (first) return false;
      continue;
    }
    const name = FIELD_LINE.exec(line)?.[1]?.toLowerCase();
    if (name === undefined) return false;
    if (MAIL_FIELDS.has(name)) fields.add(name);
  }
};

const CONTENT_TYPES: Record<string, DocumentFormat> = {
  'application/pdf': 'pdf',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'pptx',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'application/epub+zip': 'epub',
  'application/vnd.oasis.opendocument.text': 'odt',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
  'message/rfc822': 'eml',
  'application/json': 'text',
  'application/ld+json': 'text',
  'application/xml': 'text',
  'application/csv': 'text',
};

const EXTENSIONS: Record<string, DocumentFormat> = {
  pdf: 'pdf',
  docx: 'docx',
  pptx: 'pptx',
  xlsx: 'xlsx',
  epub: 'epub',
  odt: 'odt',
  eml: 'eml',
  html: 'html',
  htm: 'html',
  xhtml: 'html',
  txt: 'text',
  text: 'text',
  md: 'text',
  markdown: 'text',
  csv: 'text',
  tsv: 'text',
  json: 'text',
  jsonl: 'text',
  ndjson: 'text',
  log: 'text',
  xml: 'text',
  rst: 'text',
};

const fromContentType = (contentType: string | undefined): DocumentFormat | undefined => {
  const mime = contentType?.split(';')[0]?.trim().toLowerCase();
  if (!mime) return undefined;
  return CONTENT_TYPES[mime] ?? (mime.startsWith('text/') ? 'text' : undefined);
};

const fromFilename = (filename: string): DocumentFormat | undefined => {
  const match = /\.([a-z0-9]+)$/i.exec(filename);
  return match?.[1] ? EXTENSIONS[match[1].toLowerCase()] : undefined;
};

const unsupported = (what: string): AppError =>
  new AppError(
    'UNSUPPORTED_DOCUMENT_TYPE',
    `This looks like ${what}. Supported types: PDF, DOCX, PPTX, XLSX, ODT, EPUB, HTML, e-mail (EML), and text (TXT, Markdown, CSV, JSON).`,
  );

/**
 * `%PDF-` at the start (after whitespace) makes a PDF. Readers also accept the
 * header anywhere in the first KB, after junk a mail gateway prepended; that
 * is honoured only when the name or type says PDF too, so that a text file
 * quoting `%PDF-` stays text.
 */
const isPdf = (bytes: Uint8Array, declared: DocumentFormat | undefined): boolean => {
  const at = indexOfBytes(bytes, PDF_MAGIC, 0, 1024);
  if (at === -1) return false;
  if (declared === 'pdf') return true;
  for (let index = 0; index < at; index++) {
    const byte = bytes[index] as number;
    if (byte !== 0x20 && (byte < 0x09 || byte > 0x0d)) return false;
  }
  return true;
};

/** Text has no NUL bytes once its encoding is known; binary data usually does. */
const looksLikeText = (head: string): boolean => !head.includes('\u0000');

/**
 * The document's format: from its bytes first (magic numbers, HTML markup),
 * then the declared content type, then the file name's extension.
 */
export const detectFormat = (bytes: Uint8Array, filename: string, contentType?: string): DocumentFormat => {
  const declared = fromContentType(contentType) ?? fromFilename(filename);
  if (isPdf(bytes, declared)) return 'pdf';
  if (startsWith(bytes, ZIP_MAGIC)) {
    const known = ZIP_FORMATS.find(([part]) => indexOfBytes(bytes, part) !== -1);
    if (known) return known[1];
    const other = OTHER_ZIP_PARTS.find(([part]) => indexOfBytes(bytes, part) !== -1);
    throw unsupported(other ? other[1] : 'a ZIP archive');
  }
  const refused = REFUSED_MAGIC.find(([magic]) => startsWith(bytes, magic));
  if (refused) throw unsupported(refused[1]);

  const head = decodeText(bytes.subarray(0, 4096 & ~1), { html: true }).text;
  if (looksLikeHtml(head)) return 'html';
  if (looksLikeEmail(bytes)) return 'eml';

  const textual = bytes.length === 0 || looksLikeText(head);
  if (declared === 'text' && !textual) throw unsupported('binary data, not text');
  if (declared) return declared;
  if (textual) return 'text';
  throw unsupported('binary data of an unknown type');
};
