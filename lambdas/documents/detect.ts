import { AppError } from '../errors.js';
import { imageFormatOf } from './ocr/image-header.js';
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
  [[0x47, 0x49, 0x46, 0x38], 'a GIF image; save it as PNG, JPEG, WebP or TIFF for OCR'],
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

const MAIN_PARTS: Record<string, DocumentFormat> = {
  'word/document.xml': 'docx',
  'ppt/presentation.xml': 'pptx',
  'xl/workbook.xml': 'xlsx',
};
const MIMETYPES: Record<string, DocumentFormat> = {
  'application/epub+zip': 'epub',
  'application/vnd.oasis.opendocument.text': 'odt',
};
/** Entries read from a central directory at most (a real document has a few hundred). */
const MAX_DIRECTORY_ENTRIES = 100_000;

/**
 * The format of a zip-based document from its own central directory: the
 * main part only that format has, or the stored `mimetype` entry. Reading
 * names from the directory, not from anywhere in the bytes, keeps an
 * embedded document (a DOCX inside a deck, stored as is because it is
 * already compressed) from naming the container's format. Undefined when the
 * directory cannot be read or names no format this service reads.
 */
const zipFormatFromDirectory = (bytes: Uint8Array): DocumentFormat | 'other' | undefined => {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let at = data.length - 22; at >= Math.max(0, data.length - 22 - 0xffff); at--) {
    if (data.readUInt32LE(at) === 0x06054b50) {
      end = at;
      break;
    }
  }
  if (end === -1) return undefined;
  const count = data.readUInt16LE(end + 10);
  const size = data.readUInt32LE(end + 12);
  const offset = data.readUInt32LE(end + 16);
  if (offset + size > data.length) return undefined;
  let mimetype: string | undefined;
  for (let index = 0, at = offset; index < Math.min(count, MAX_DIRECTORY_ENTRIES); index++) {
    if (at + 46 > data.length || data.readUInt32LE(at) !== 0x02014b50) return undefined;
    const nameLength = data.readUInt16LE(at + 28);
    const name = data.toString('latin1', at + 46, Math.min(data.length, at + 46 + nameLength));
    const format = MAIN_PARTS[name];
    if (format) return format;
    if (name === 'mimetype' && data.readUInt16LE(at + 10) === 0) {
      // Stored uncompressed (as both specifications require): its bytes follow its local header.
      const local = data.readUInt32LE(at + 42);
      if (local + 30 <= data.length && data.readUInt32LE(local) === 0x04034b50) {
        const start = local + 30 + data.readUInt16LE(local + 26) + data.readUInt16LE(local + 28);
        mimetype = data.toString('latin1', start, Math.min(data.length, start + data.readUInt32LE(at + 20))).trim();
      }
    }
    at += 46 + nameLength + data.readUInt16LE(at + 30) + data.readUInt16LE(at + 32);
  }
  if (mimetype === undefined) return undefined;
  return MIMETYPES[mimetype] ?? 'other';
};

/** Header fields that mark a message: RFC 5322's, MIME's and the trace fields a mail server adds. */
const MAIL_FIELDS = new Set(['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'received', 'return-path']);
/** With From, one of these makes a message: a memo or a YAML file may have From and To, never these. */
const TRACE_FIELDS = new Set(['date', 'message-id', 'mime-version', 'received', 'return-path']);
/** A header field's name (printable ASCII but the colon), then the colon. */
const FIELD_LINE = /^([!-9;-~]+)[ \t]*:/;
/** Where a message's header block must end: long Received and DKIM chains run to tens of KB. */
const MAIL_HEAD_BYTES = 64 * 1024;

/**
 * An e-mail (RFC 5322): from the first line (after a BOM or an mbox `From `
 * line), header fields (folded lines allowed) up to an empty line, among
 * them `From` and one of Date, Message-ID, MIME-Version, Received,
 * Return-Path, or two of those (a bounce may lack From). A memo that opens with `To:` and `Subject:`, a YAML file with
 * `from:` and `to:`, or prose before any empty line stays text.
 */
const looksLikeEmail = (bytes: Uint8Array): boolean => {
  let head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, MAIL_HEAD_BYTES)).toString('latin1');
  // A UTF-8 BOM (as latin1), and an mbox separator line (`From sender date`, no colon) before the fields.
  if (head.startsWith('\u00ef\u00bb\u00bf')) head = head.slice(3);
  if (head.startsWith('From ')) head = head.slice(head.indexOf('\n') + 1 || head.length);
  const fields = new Set<string>();
  for (let at = 0, first = true; ; first = false) {
    const end = head.indexOf('\n', at);
    if (end === -1) return false;
    const line = head.slice(at, head[end - 1] === '\r' ? end - 1 : end);
    at = end + 1;
    // RFC 5322 requires From and Date; a message that lost Date still has a trace or MIME field.
    if (line === '') {
      const traces = [...TRACE_FIELDS].filter((field) => fields.has(field)).length;
      return traces >= 2 || (traces === 1 && fields.has('from'));
    }
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
  'image/png': 'image',
  'image/jpeg': 'image',
  'image/webp': 'image',
  'image/tiff': 'image',
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
  png: 'image',
  jpg: 'image',
  jpeg: 'image',
  webp: 'image',
  tif: 'image',
  tiff: 'image',
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
    `This looks like ${what}. Supported types: PDF, DOCX, PPTX, XLSX, ODT, EPUB, HTML, e-mail (EML), images for OCR (PNG, JPEG, WebP, TIFF), and text (TXT, Markdown, CSV, JSON).`,
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
    const listed = zipFormatFromDirectory(bytes);
    if (listed && listed !== 'other') return listed;
    // A directory that cannot be read: the names as they appear in the bytes (the loader reports the damage).
    const known = ZIP_FORMATS.find(([part]) => indexOfBytes(bytes, part) !== -1);
    if (known) return known[1];
    const other = OTHER_ZIP_PARTS.find(([part]) => indexOfBytes(bytes, part) !== -1);
    throw unsupported(other ? other[1] : 'a ZIP archive');
  }
  if (imageFormatOf(bytes)) return 'image';
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
