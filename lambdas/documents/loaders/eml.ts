import PostalMime, { type Address, type Attachment, type Email } from 'postal-mime';
import { detectFormat } from '../detect.js';
import type { Document, Metadata, ResultWarning } from '../document.js';
import { AppError } from '../../errors.js';
import { outputCharacterLimit } from '../limits.js';
import { htmlToText } from './html.js';
import { checkTextSize } from './text.js';
import { DOCUMENT_LOADERS } from './document-loaders.js';
import { normalizedText, type LoadInput, type Loader } from './types.js';

/**
 * E-mail (RFC 5322 / MIME, `.eml`): the body once, then each attachment read
 * by its own loader, as further documents. postal-mime parses the message
 * (docs/results.md, "E-mail (EML)", for the libraries compared): transfer encodings,
 * charsets, RFC 2047 encoded words and RFC 2231 file names. Nested messages
 * (`message/rfc822`) are taken as attachments and read by this loader again,
 * so that every bound below holds across the whole tree.
 */

/** A message inside a message inside…: deeper ones are skipped with a warning. */
export const MAX_MESSAGE_DEPTH = 3;
/** Attachments read per e-mail, nested messages and their attachments included; the rest are skipped with a warning. */
export const MAX_ATTACHMENTS = 100;
/**
 * MIME parts per e-mail, nested messages included, counted from the
 * delimiter lines before parsing: postal-mime builds every part in memory
 * (500,000 empty parts, 4.8 MB of mail, took 11 s and 775 MB).
 */
export const MAX_MIME_PARTS = 10_000;
/** Multipart nesting; real mail nests a handful of levels. */
export const MAX_MIME_NESTING = 32;

/** Parts that are never documents, skipped without a warning: a logo or a signature in every other mail would bury the warnings that matter. */
const NON_DOCUMENT_TYPES = /^(?:image|audio|video|font|model)\//;
const SIGNATURE_TYPES = new Set([
  'application/pkcs7-signature',
  'application/x-pkcs7-signature',
  'application/pgp-signature',
  'application/pgp-keys',
]);
const IMAGE_NAMES = /\.(?:png|jpe?g|gif|bmp|webp|tiff?|svg|heic|ico)$/i;

const isNonDocument = (attachment: Attachment): boolean =>
  // `related`: a part the HTML body shows by its Content-ID (inline images, styles).
  attachment.related === true ||
  NON_DOCUMENT_TYPES.test(attachment.mimeType) ||
  SIGNATURE_TYPES.has(attachment.mimeType) ||
  IMAGE_NAMES.test(attachment.filename ?? '');

/** What the whole tree of one e-mail has used of its bounds. */
interface Budget {
  parts: number;
  attachments: number;
  /** Decoded bytes still allowed to reach a loader (the input limit, for all attachments together). */
  bytes: number;
  /**
   * Characters of text still allowed (`maxOutputCharacters`, for the bodies
   * and all attachments together): each attachment's loader gets what is
   * left as its own budget, so one that would pass it fails (and is skipped)
   * as it builds its text.
   */
  characters: number;
  countWarned: boolean;
  warnings: ResultWarning[];
}

const latin1 = (bytes: Uint8Array, from: number, length: number): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
    'latin1',
    from,
    Math.min(bytes.length, from + length),
  );

const BOUNDARY_PARAMETER = /^oundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))/i;

/**
 * The parts a message opens: lines `--boundary` for a boundary some
 * Content-Type declares (closing `--boundary--` lines open none). Native
 * searches over the bytes; no string of the whole message is made.
 */
export const countMimeParts = (bytes: Uint8Array): number => {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const boundaries = new Set<string>();
  for (const needle of ['oundary', 'OUNDARY']) {
    for (let at = buffer.indexOf(needle); at !== -1; at = buffer.indexOf(needle, at + 1)) {
      const before = buffer[at - 1];
      if (before !== 0x62 && before !== 0x42) continue; // b or B
      const match = BOUNDARY_PARAMETER.exec(latin1(bytes, at, 240));
      const boundary = (match?.[1] ?? match?.[2])?.trimEnd();
      if (boundary) boundaries.add(boundary);
      // Each multipart declares one: more boundaries than the cap on parts is already too many.
      if (boundaries.size > MAX_MIME_PARTS) return boundaries.size;
    }
  }
  if (boundaries.size === 0) return 0;
  let parts = 0;
  for (let at = buffer.indexOf('\n--'); at !== -1; at = buffer.indexOf('\n--', at + 3)) {
    const line = /^[^\r\n]*/.exec(latin1(bytes, at + 3, 204))?.[0].trimEnd() ?? '';
    if (boundaries.has(line)) parts++;
  }
  return parts;
};

const tooManyParts = () =>
  new AppError(
    'DOCUMENT_TOO_LARGE',
    `The e-mail has more than ${MAX_MIME_PARTS} MIME parts (nested messages included); the limit protects the service from MIME bombs.`,
  );

const parseMessage = async (bytes: Uint8Array, budget: Budget): Promise<Email> => {
  budget.parts += countMimeParts(bytes);
  if (budget.parts > MAX_MIME_PARTS) throw tooManyParts();
  try {
    return await PostalMime.parse(bytes, {
      // Nested messages come back as attachments, read by this loader with its bounds.
      forceRfc822Attachments: true,
      maxRfc822NestingDepth: 0,
      maxNestingDepth: MAX_MIME_NESTING,
      attachmentEncoding: 'arraybuffer',
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : '';
    if (/nesting depth/i.test(message)) {
      throw new AppError(
        'DOCUMENT_PARSE_ERROR',
        `The e-mail nests MIME parts more than ${MAX_MIME_NESTING} levels deep; no real message does.`,
        { cause: error },
      );
    }
    if (/header size/i.test(message)) {
      throw new AppError('DOCUMENT_TOO_LARGE', 'The e-mail has more than 2 MB of headers.', { cause: error });
    }
    throw new AppError('DOCUMENT_PARSE_ERROR', 'The e-mail could not be read; it may be damaged.', { cause: error });
  }
};

/** `Name <address>`, the name quoted when it holds a comma or another special. */
const mailbox = (name: string, address: string | undefined): string => {
  if (!name) return address ?? '';
  const shown = /[",;<>@()[\]:\\]/.test(name) ? `"${name.replace(/["\\]/g, '\\$&')}"` : name;
  return address ? `${shown} <${address}>` : shown;
};

const addressList = (addresses: Address[] | Address | undefined): string =>
  (Array.isArray(addresses) ? addresses : addresses ? [addresses] : [])
    .flatMap((address) =>
      address.group
        ? address.group.map((member) => mailbox(member.name, member.address))
        : [mailbox(address.name, address.address)],
    )
    .filter(Boolean)
    .join(', ');

/** `subject`, `from`, `to`, `cc` and `date` (ISO 8601 when it parses, else as written), those the message has. */
const headerMetadata = (email: Email): Metadata => {
  const metadata: Metadata = {};
  if (email.subject) metadata.subject = email.subject;
  const from = addressList(email.from);
  if (from) metadata.from = from;
  const to = addressList(email.to);
  if (to) metadata.to = to;
  const cc = addressList(email.cc);
  if (cc) metadata.cc = cc;
  if (email.date) {
    const time = Date.parse(email.date);
    metadata.date = Number.isNaN(time) ? email.date : new Date(time).toISOString();
  }
  return metadata;
};

/**
 * The body once: the plain text when the message has one, else the text of
 * its HTML. With figures on, the HTML is read for its pictures even when the
 * plain text is the body: an inline picture (`cid:`) is the message's part
 * with that Content-ID; a remote one is listed, never fetched.
 */
const bodyOf = async (email: Email, input: LoadInput): Promise<string> => {
  const plain = email.text === undefined ? undefined : normalizedText(email.text);
  const figures =
    input.figures && email.html ? { collector: input.figures, resolve: inlinePictures(email) } : undefined;
  if (plain) {
    // Only for its pictures: HTML the plain-text body stands for may be past the HTML caps; it is then not searched.
    if (figures && email.html) {
      await htmlToText(email.html, input.limits, input.checkpoint, 'text', figures).catch((error: unknown) => {
        if (!(error instanceof AppError) || error.code !== 'DOCUMENT_PARSE_ERROR') throw error;
        figures.collector.countUnsupported();
      });
    }
    return plain;
  }
  if (!email.html) return '';
  const { text } = await htmlToText(email.html, input.limits, input.checkpoint, input.outputFormat, figures);
  return normalizedText(text);
};

/** `cid:ID` → the bytes of the part with Content-ID `<ID>`. */
const inlinePictures = (email: Email) => {
  const byId = new Map<string, Attachment>();
  for (const attachment of email.attachments) {
    const id = attachment.contentId?.replace(/^<|>$/g, '').trim();
    if (id) byId.set(id.toLowerCase(), attachment);
  }
  return (src: string): Uint8Array | undefined => {
    if (!/^cid:/i.test(src)) return undefined;
    let id = src.slice(4).trim();
    try {
      id = decodeURIComponent(id);
    } catch {
      // As written.
    }
    const part = byId.get(id.toLowerCase());
    return part ? contentOf(part) : undefined;
  };
};

/** Attached pictures (not shown inline) as figures of the attachment's name. */
const attachedPictures = (email: Email, input: LoadInput, path: string): void => {
  const collector = input.figures;
  if (!collector) return;
  email.attachments.forEach((attachment, index) => {
    if (
      attachment.related ||
      !(NON_DOCUMENT_TYPES.test(attachment.mimeType) || IMAGE_NAMES.test(attachment.filename ?? ''))
    )
      return;
    if (!/^image\//.test(attachment.mimeType) && !IMAGE_NAMES.test(attachment.filename ?? '')) return;
    const name = nameOf(attachment, index);
    collector.add({ bytes: contentOf(attachment), section: path ? `${path}/${name}` : name });
  });
};

const contentOf = (attachment: Attachment): Uint8Array => {
  const { content } = attachment;
  if (typeof content === 'string') return Buffer.from(content, attachment.encoding === 'base64' ? 'base64' : 'utf8');
  return content instanceof Uint8Array ? content : new Uint8Array(content);
};

const nameOf = (attachment: Attachment, index: number): string =>
  attachment.filename?.trim() || (attachment.mimeType === 'message/rfc822' ? 'message.eml' : `attachment-${index + 1}`);

/** Failures that are the task's, not the attachment's: they stop the whole load. */
const stopsTheLoad = (error: unknown, input: LoadInput): boolean =>
  input.signal?.aborted === true ||
  (error instanceof AppError && (error.code === 'SOFT_TIME_LIMIT' || error.code === 'TIME_LIMIT_EXCEEDED'));

const skipped = (budget: Budget, path: string, reason: string) =>
  budget.warnings.push({ code: 'ATTACHMENT_SKIPPED', message: `The attachment "${path}" was skipped: ${reason}` });

/**
 * One message's documents: its body, then its attachments in order.
 * `path` names where it sits (`''` for the e-mail itself, else the chain of
 * attachment names, `forward.eml/report.pdf`); `depth` counts the messages
 * around it.
 */
const readMessage = async (
  input: LoadInput,
  bytes: Uint8Array,
  path: string,
  depth: number,
  budget: Budget,
): Promise<Document[]> => {
  const email = await parseMessage(bytes, budget);
  await input.checkpoint();
  const headers = headerMetadata(email);
  const base = { source: input.source, filename: input.filename, ...(path ? { attachment: path } : {}) };
  const documents: Document[] = [];
  const mark = input.figures?.mark() ?? 0;
  const body = await bodyOf(email, input);
  attachedPictures(email, input, path);
  const placed = input.figures?.placedSince(mark) ?? [];
  if (body.length > budget.characters) {
    throw new AppError(
      'DOCUMENT_TOO_LARGE',
      `The e-mail's text is longer than ${outputCharacterLimit(input.limits)} characters (maxOutputCharacters).`,
    );
  }
  budget.characters -= body.length;
  if (body) {
    documents.push({
      page_content: body,
      metadata: { ...base, ...headers, ...(placed.length ? { figures: placed } : {}) },
    });
  }

  const attachments = email.attachments.filter((attachment) => !isNonDocument(attachment));
  for (const [index, attachment] of attachments.entries()) {
    await input.checkpoint();
    if (depth === 0) input.onProgress?.(index / attachments.length);
    const name = nameOf(attachment, index);
    const where = path ? `${path}/${name}` : name;
    if (++budget.attachments > MAX_ATTACHMENTS) {
      if (!budget.countWarned) {
        budget.countWarned = true;
        skipped(
          budget,
          where,
          `the e-mail has more than ${MAX_ATTACHMENTS} attachments; this one and the rest were not read.`,
        );
      }
      continue;
    }
    const content = contentOf(attachment);
    if (content.length > budget.bytes) {
      skipped(
        budget,
        where,
        `the attachments add up to more than ${Math.round(input.limits.maxInputBytes / 1024 / 1024)} MB decoded.`,
      );
      continue;
    }
    budget.bytes -= content.length;
    try {
      const format = detectFormat(content, name, attachment.mimeType);
      if (format === 'eml') {
        if (depth + 1 > MAX_MESSAGE_DEPTH) {
          skipped(budget, where, `messages are read ${MAX_MESSAGE_DEPTH} levels deep inside one another, no deeper.`);
          continue;
        }
        documents.push(...(await readMessage(input, content, where, depth + 1, budget)));
        continue;
      }
      const load = await DOCUMENT_LOADERS[format]();
      const loaded = await load({
        ...input,
        limits: { ...input.limits, maxOutputCharacters: budget.characters },
        bytes: content,
        filename: name,
        contentType: attachment.mimeType,
        pages: undefined,
        onProgress: undefined,
      });
      // Loaders that do not count as they build are checked here, once their text is made.
      const characters = loaded.documents.reduce((sum, document) => sum + document.page_content.length, 0);
      if (characters > budget.characters) {
        skipped(
          budget,
          where,
          `the e-mail's text and attachments add up to more than ${outputCharacterLimit(input.limits)} characters (maxOutputCharacters).`,
        );
        continue;
      }
      budget.characters -= characters;
      for (const document of loaded.documents) {
        document.metadata = { ...document.metadata, ...headers, ...base, attachment: where };
        documents.push(document);
      }
      for (const warning of loaded.warnings ?? []) {
        budget.warnings.push({ ...warning, message: `${where}: ${warning.message}` });
      }
    } catch (error) {
      if (stopsTheLoad(error, input)) throw error;
      skipped(budget, where, error instanceof AppError ? error.message : 'it could not be read.');
    }
  }
  return documents;
};

export const loadEml: Loader = async (input) => {
  // Mail is text: the text cap, since postal-mime holds the message, its decoded parts and their strings at once.
  checkTextSize(input.bytes, input.limits, 'e-mail');
  const budget: Budget = {
    parts: 0,
    attachments: 0,
    bytes: input.limits.maxInputBytes,
    characters: outputCharacterLimit(input.limits),
    countWarned: false,
    warnings: [],
  };
  const documents = await readMessage(input, input.bytes, '', 0, budget);
  input.onProgress?.(1);
  return { documents, ...(budget.warnings.length ? { warnings: budget.warnings } : {}) };
};
