import './pdf-runtime.js';
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { FormatError, InvalidPDFException, PasswordException, PDFParse } from 'pdf-parse';
import type { PDFDocumentProxy } from 'pdfjs-dist/legacy/build/pdf.mjs';
import type { Document, ResultWarning } from '../document.js';
import { AppError } from '../../errors.js';
import { formatPageSelection, type OutputFormat, type PageSelection } from '../options.js';
import {
  defaultThreadCount,
  leaseThreads,
  type PageRange,
  type PageRead,
  type ThreadDocument,
  type ThreadReply,
  type ThreadRequest,
} from './pdf-pool.js';
import { boldFontsOf, linesOfPage, renderMarkdown, type PdfLine } from './pdf-structure.js';
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
 * What pdf-parse keeps private and the loader needs: the pdf.js document,
 * loaded (and cached) by `load()`, which maps pdf.js's errors the way its
 * public methods do.
 */
interface ParserInternals {
  doc?: PDFDocumentProxy;
  load(): Promise<PDFDocumentProxy>;
}

const internalsOf = (parser: PDFParse): ParserInternals => parser as unknown as ParserInternals;

/**
 * pdf.js keeps what it parsed for every page of an open document (objects,
 * fonts, page proxies): read page after page, a thread's heap grows until it
 * dies (a 128 MB PDF thread died about half way through a 619-page PDF).
 * Past half of the heap limit, the document's caches are dropped; fonts are
 * then parsed again when a later page needs them.
 */
const relieveMemory = async (parser: PDFParse): Promise<void> => {
  const { used_heap_size: used, heap_size_limit: limit } = getHeapStatistics();
  // pdf-parse offers no cleanup of its own.
  if (used > limit / 2) await internalsOf(parser).doc?.cleanup();
};

/** Runs a read; a stream past the decode cap fails it, whether pdf.js gave up on the page or went on. */
const withinDecodeLimit = async <T>(read: () => Promise<T>): Promise<T> => {
  try {
    return await read();
  } finally {
    checkDecodeLimit();
  }
};

/** Loads the document (no page is read) to learn its page count. */
const pageCountOf = (parser: PDFParse): Promise<number> =>
  withinDecodeLimit(async () => (await internalsOf(parser).load()).numPages);

const readText = async (parser: PDFParse, { first, last }: PageRange): Promise<PageRead[]> => {
  const result = await withinDecodeLimit(() => parser.getText({ first, last, pageJoiner: '' }));
  return result.pages.map(({ num, text }) => ({ num, text }));
};

/** The pages' lines with their layout, for Markdown; the same text content pdf-parse's `getText` reads. */
const readLines = (parser: PDFParse, { first, last }: PageRange): Promise<PageRead[]> =>
  withinDecodeLimit(async () => {
    const doc = await internalsOf(parser).load();
    const pages: PageRead[] = [];
    for (let num = first; num <= last; num++) {
      const page = await doc.getPage(num);
      const content = await page.getTextContent();
      const runs = content.items.filter((item) => 'str' in item);
      pages.push({ num, lines: linesOfPage(runs, boldFontsOf(content.styles)) });
      page.cleanup();
    }
    return pages;
  });

const readRange = async (parser: PDFParse, range: PageRange, outputFormat: OutputFormat): Promise<PageRead[]> => {
  const pages = await (outputFormat === 'markdown' ? readLines(parser, range) : readText(parser, range));
  await relieveMemory(parser);
  return pages;
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
    readRange(open.parser, request.range, request.outputFormat).then(
      (pages) => port.postMessage({ pages }),
      (error: unknown) => {
        const { name, message } = error instanceof Error ? error : new Error(String(error));
        port.postMessage({ error: { name, message } });
      },
    );
  });
};

/** Blocks of at most BLOCK_PAGES pages covering the ranges, in page order. */
const blocksOf = (ranges: readonly PageRange[]): PageRange[] => {
  const blocks: PageRange[] = [];
  for (const range of ranges) {
    for (let first = range.first; first <= range.last; first += BLOCK_PAGES) {
      blocks.push({ first, last: Math.min(range.last, first + BLOCK_PAGES - 1) });
    }
  }
  return blocks;
};

const pageCount = (ranges: readonly PageRange[]): number =>
  ranges.reduce((sum, { first, last }) => sum + last - first + 1, 0);

/** The pages to read: the selection (all pages without one) within the file, and the selected pages it lacks. */
const planPages = (selection: PageSelection | undefined, total: number) => {
  const wanted = selection ?? [{ first: 1, last: total }];
  return {
    present: wanted
      .filter(({ first }) => first <= total)
      .map(({ first, last }) => ({ first, last: Math.min(last, total) })),
    missing: wanted
      .filter(({ last }) => last > total)
      .map(({ first, last }) => ({ first: Math.max(first, total + 1), last })),
  };
};

/** "The PDF has 12 pages; pages 13-20 do not exist." */
const outOfRange = (missing: PageSelection, total: number): ResultWarning => {
  const single = missing.length === 1 && missing[0]?.first === missing[0]?.last;
  const pages = `${single ? 'page' : 'pages'} ${formatPageSelection(missing)} ${single ? 'does' : 'do'}`;
  return {
    code: 'PAGES_OUT_OF_RANGE',
    message: `The PDF has ${total} page${total === 1 ? '' : 's'}; ${pages} not exist.`,
  };
};

/** `maxPages` bounds the pages read: a few pages of a long PDF are fine. */
const checkPageLimit = (reading: number, total: number, input: LoadInput): void => {
  const limit = input.limits.maxPages;
  if (reading <= limit) return;
  throw new AppError(
    'DOCUMENT_TOO_LARGE',
    input.pages
      ? `${reading} pages of the PDF are selected; the limit is ${limit}. Select fewer pages.`
      : `The PDF has ${total} pages; the limit is ${limit}. Split it into smaller files.`,
  );
};

/**
 * PDF threads to use for a document: none for short ones; otherwise one per
 * core. The calling thread then only hands out work, which keeps its event
 * loop free (progress writes, time limits, cancellation): pdf.js reads a page
 * in one long run of microtasks, during which nothing else on its thread runs.
 */
const threadsFor = (pages: number, blocks: number, input: LoadInput): number => {
  if (pages < input.limits.pdfParallelMinPages) return 0;
  const wanted = input.limits.pdfThreads > 0 ? input.limits.pdfThreads : defaultThreadCount();
  return wanted > 1 ? Math.min(wanted, blocks) : 0;
};

type ReadBlock = (range: PageRange) => Promise<PageRead[]>;

/**
 * Reads the blocks with every reader pulling the next one from one shared
 * list, so a faster reader takes more blocks. Progress is over the pages read.
 */
const readBlocks = async (readers: ReadBlock[], blocks: PageRange[], input: LoadInput): Promise<PageRead[]> => {
  const reading = pageCount(blocks);
  const results: PageRead[][] = [];
  let next = 0;
  let done = 0;
  const drain = async (read: ReadBlock): Promise<void> => {
    for (;;) {
      await input.checkpoint();
      // Take the next block only after the checkpoint: another reader may have taken the last one meanwhile.
      if (next >= blocks.length) return;
      const index = next++;
      const block = blocks[index] as PageRange;
      results[index] = await read(block);
      done += block.last - block.first + 1;
      input.onProgress?.(done / reading);
    }
  };
  await Promise.all(readers.map(drain));
  return results.flat();
};

/** Each page's content: its text, or Markdown made from the lines of all the pages read. */
const contentsOf = (pages: PageRead[], outputFormat: OutputFormat): string[] =>
  outputFormat === 'markdown'
    ? renderMarkdown(pages.map((page): PdfLine[] => ('lines' in page ? page.lines : [])))
    : pages.map((page) => ('text' in page ? page.text : ''));

/** One document per page with content. */
const documentsOf = (pages: PageRead[], total: number, input: LoadInput): Document[] => {
  const contents = contentsOf(pages, input.outputFormat);
  const documents: Document[] = [];
  pages.forEach((page, index) => {
    const content = contents[index]?.trim();
    if (content) {
      documents.push({
        page_content: content,
        metadata: { ...baseMetadata(input), page: page.num, total_pages: total },
      });
    }
  });
  return documents;
};

export const loadPdf: Loader = async (input): Promise<Loaded> => {
  await input.checkpoint();
  const parser = openParser(input.bytes, input.limits.maxPdfStreamBytes);
  let lease: ReturnType<typeof leaseThreads> | undefined;
  let failed = false;
  try {
    const total = await pageCountOf(parser);
    const { present, missing } = planPages(input.pages, total);
    const blocks = blocksOf(present);
    const reading = pageCount(blocks);
    checkPageLimit(reading, total, input);
    const leased = leaseThreads(threadsFor(reading, blocks.length, input), input.limits.pdfThreadHeapMb);
    lease = leased;
    const threadDocument: ThreadDocument = {
      bytes: input.bytes,
      maxStreamBytes: input.limits.maxPdfStreamBytes,
      outputFormat: input.outputFormat,
    };
    // A thread that dies (out of memory) fails the document: its pages never move to a thread with more room.
    const readers: ReadBlock[] = leased.threads.length
      ? leased.threads.map((thread) => (range: PageRange) => thread.read(leased.doc, threadDocument, range))
      : [(range) => readRange(parser, range, input.outputFormat)];
    const pages = await readBlocks(readers, blocks, input);
    const documents = documentsOf(pages, total, input);
    return { documents, pages: total, ...(missing.length ? { warnings: [outOfRange(missing, total)] } : {}) };
  } catch (error) {
    failed = true;
    throw classify(error);
  } finally {
    // A failed or aborted read may leave a thread busy; replace it rather than wait.
    await lease?.release({ kill: failed });
    await parser.destroy().catch(() => {});
  }
};
