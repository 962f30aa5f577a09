import './pdf-runtime.js';
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { FormatError, InvalidPDFException, PasswordException, PDFParse } from 'pdf-parse';
import type { Document } from '../document.js';
import { AppError } from '../errors.js';
import {
  defaultThreadCount,
  leaseThreads,
  type PageRange,
  type PageText,
  type ThreadReply,
  type ThreadRequest,
} from './pdf-pool.js';
import { baseMetadata, type LoadInput, type Loaded, type Loader } from './types.js';

/** Pages per unit of work: small enough to balance readers, large enough to amortise messages. */
const BLOCK_PAGES = 12;

/**
 * The cap on what one PDF stream may decode to. pdf.js grows a stream's
 * buffer as it inflates, without a limit: a 256 KB PDF whose content stream
 * inflates to 256 MB took a reader past 1 GB. A patch to pdf.js
 * (`patches/pdfjs-dist+*.patch`, applied by patch-package on install) checks
 * this object before each growth, marks it and throws. pdf.js may swallow the
 * error and go on with the page (it tolerates broken content), so the mark is
 * what the loader reads. One document at a time per thread.
 */
interface DecodeLimit {
  maxStreamBytes: number;
  exceeded: boolean;
}

const decodeLimit = (): DecodeLimit => (globalThis as { pdfjsDecodeLimit?: DecodeLimit }).pdfjsDecodeLimit!;

const DECODE_LIMIT_ERROR = 'PdfDecodeLimit';

const streamTooLarge = (maxStreamBytes: number) =>
  new AppError(
    'DOCUMENT_TOO_LARGE',
    `A stream in the PDF decompresses to more than ${Math.round(maxStreamBytes / 1024 / 1024)} MB (a decompression bomb?).`,
  );

const openParser = (bytes: Uint8Array, maxStreamBytes: number): PDFParse => {
  (globalThis as { pdfjsDecodeLimit?: DecodeLimit }).pdfjsDecodeLimit = { maxStreamBytes, exceeded: false };
  // pdf.js takes ownership of (and may detach) the buffer it is given.
  return new PDFParse({ data: bytes.slice(), verbosity: 0, isEvalSupported: false, disableFontFace: true });
};

const checkDecodeLimit = (): void => {
  const limit = decodeLimit();
  if (limit.exceeded) throw Object.assign(new Error(String(limit.maxStreamBytes)), { name: DECODE_LIMIT_ERROR });
};

/**
 * pdf.js keeps what it parsed for every page of an open document (objects,
 * fonts, page proxies): read page after page, a thread's heap grows until it
 * dies (a 128 MB PDF thread died about half way through a 619-page PDF).
 * Past half of the heap limit, the document's caches are dropped; fonts are
 * then parsed again when a later page needs them.
 */
const relieveMemory = async (parser: PDFParse): Promise<void> => {
  const { used_heap_size: used, heap_size_limit: limit } = getHeapStatistics();
  // pdf-parse keeps the pdf.js document private; it offers no cleanup of its own.
  if (used > limit / 2) await (parser as unknown as { doc?: { cleanup(): Promise<void> } }).doc?.cleanup();
};

/** Reads pages; a stream past the decode cap fails the read, whether pdf.js gave up on the page or went on. */
const getText = async (parser: PDFParse, { first, last }: PageRange) => {
  try {
    return await parser.getText({ first, last, pageJoiner: '' });
  } finally {
    checkDecodeLimit();
  }
};

const readRange = async (parser: PDFParse, range: PageRange): Promise<PageText[]> => {
  const result = await getText(parser, range);
  await relieveMemory(parser);
  return result.pages.map(({ num, text }) => ({ num, text }));
};

const isNamed = (error: unknown, name: string): boolean => (error as Error | undefined)?.name === name;

/** Map pdf.js failures (from this thread or a PDF thread) to stable codes. */
const classify = (error: unknown): unknown => {
  if (error instanceof AppError || error === undefined) return error;
  if (isNamed(error, DECODE_LIMIT_ERROR)) return streamTooLarge(Number((error as Error).message));
  if (error instanceof PasswordException || isNamed(error, 'PasswordException')) {
    return new AppError('PDF_PASSWORD_PROTECTED', 'The PDF is encrypted with a password; upload an unprotected copy.');
  }
  const known =
    error instanceof InvalidPDFException || error instanceof FormatError || isNamed(error, 'InvalidPDFException');
  const detail = known ? `: ${(error as Error).message}` : '';
  return new AppError('DOCUMENT_PARSE_ERROR', `The PDF could not be read${detail}.`, { cause: error });
};

/** Runs in a PDF worker thread: keeps the current document open and reads the ranges it is sent. */
export const servePdfThread = (): void => {
  const port = parentPort;
  if (!port) return;
  let open: { doc: number; parser: PDFParse } | undefined;
  port.postMessage({ ready: true } satisfies ThreadReply);
  port.on('message', (request: ThreadRequest) => {
    if (request.type === 'close') {
      if (open?.doc === request.doc) void open.parser.destroy().catch(() => {});
      open = undefined;
      return;
    }
    if (open?.doc !== request.doc && request.bytes) {
      void open?.parser.destroy().catch(() => {});
      open = { doc: request.doc, parser: openParser(request.bytes, request.maxStreamBytes) };
    }
    if (!open || open.doc !== request.doc) {
      port.postMessage({ error: { name: 'Error', message: 'PDF thread has no open document' } });
      return;
    }
    readRange(open.parser, request.range).then(
      (pages) => port.postMessage({ pages }),
      (error: unknown) => {
        const { name, message } = error instanceof Error ? error : new Error(String(error));
        port.postMessage({ error: { name, message } });
      },
    );
  });
};

const blocksOf = (from: number, to: number): PageRange[] => {
  const blocks: PageRange[] = [];
  for (let first = from; first <= to; first += BLOCK_PAGES) {
    blocks.push({ first, last: Math.min(to, first + BLOCK_PAGES - 1) });
  }
  return blocks;
};

/**
 * PDF threads to use for a document: none for short ones; otherwise one per
 * core. The calling thread then only hands out work, which keeps its event
 * loop free (progress writes, time limits, cancellation): pdf.js reads a page
 * in one long run of microtasks, during which nothing else on its thread runs.
 */
const threadsFor = (pages: number, input: LoadInput): number => {
  if (pages < input.limits.pdfParallelMinPages) return 0;
  const wanted = input.limits.pdfThreads > 0 ? input.limits.pdfThreads : defaultThreadCount();
  return wanted > 1 ? Math.min(wanted, Math.ceil(pages / BLOCK_PAGES)) : 0;
};

type ReadBlock = (range: PageRange) => Promise<PageText[]>;

/**
 * Reads pages 2..total with every reader pulling the next block from one
 * shared list, so a faster reader takes more blocks.
 */
const readRest = async (readers: ReadBlock[], total: number, input: LoadInput): Promise<PageText[]> => {
  const blocks = blocksOf(2, total);
  const results: PageText[][] = [];
  let next = 0;
  let done = 1;
  const drain = async (read: ReadBlock): Promise<void> => {
    for (;;) {
      await input.checkpoint();
      // Take the next block only after the checkpoint: another reader may have taken the last one meanwhile.
      if (next >= blocks.length) return;
      const index = next++;
      const block = blocks[index] as PageRange;
      results[index] = await read(block);
      done += block.last - block.first + 1;
      input.onProgress?.(done / total);
    }
  };
  await Promise.all(readers.map(drain));
  return results.flat();
};

export const loadPdf: Loader = async (input): Promise<Loaded> => {
  await input.checkpoint();
  const parser = openParser(input.bytes, input.limits.maxPdfStreamBytes);
  let lease: ReturnType<typeof leaseThreads> | undefined;
  let failed = false;
  try {
    // Reading page 1 also loads the document and tells the page count.
    const head = await getText(parser, { first: 1, last: 1 });
    const total = head.total;
    if (total > input.limits.maxPages) {
      throw new AppError(
        'DOCUMENT_TOO_LARGE',
        `The PDF has ${total} pages; the limit is ${input.limits.maxPages}. Split it into smaller files.`,
      );
    }
    input.onProgress?.(1 / Math.max(total, 1));
    const leased = leaseThreads(threadsFor(total, input), input.limits.pdfThreadHeapMb);
    lease = leased;
    // A thread that dies (out of memory) fails the document: its pages never move to a thread with more room.
    const readers: ReadBlock[] = leased.threads.length
      ? leased.threads.map(
          (thread) => (range: PageRange) =>
            thread.read(leased.doc, { bytes: input.bytes, maxStreamBytes: input.limits.maxPdfStreamBytes }, range),
        )
      : [(range) => readRange(parser, range)];
    const pages = [...head.pages, ...(await readRest(readers, total, input))];
    const documents: Document[] = [];
    for (const page of pages) {
      const text = page.text.trim();
      if (text) {
        documents.push({
          page_content: text,
          metadata: { ...baseMetadata(input), page: page.num, total_pages: total },
        });
      }
    }
    return { documents, pages: total };
  } catch (error) {
    failed = true;
    throw classify(error);
  } finally {
    // A failed or aborted read may leave a thread busy; replace it rather than wait.
    await lease?.release({ kill: failed });
    await parser.destroy().catch(() => {});
  }
};
