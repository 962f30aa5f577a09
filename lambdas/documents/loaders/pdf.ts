import { createHash } from 'node:crypto';
import { pictureBudget, type PdfPicture, type PictureBounds } from '../pdf/pictures.js';
import type { FigureCollector } from '../figures/figures.js';
import { figureMarkdown, isCaptionLine } from '../figures/captions.js';
import { parentPort } from 'node:worker_threads';
import type { Document, PageBox } from '../document.js';
import { AppError } from '../../errors.js';
import type { OutputFormat } from '../options.js';
import {
  DEFAULT_OCR,
  linesOfOcr,
  ocrLinesOf,
  textOfOcrLines,
  needsOcr,
  recognise,
  type OcrRequest,
} from '../ocr/recognise.js';
import { findFurniture, type PlacedLine } from '../pdf/furniture.js';
import { readPageText, shownBox } from '../pdf/page-text.js';
import { findTables } from '../pdf/tables.js';
import { PdfiumDocument } from '../pdf/pdfium.js';
import { renderPageGray } from '../pdf/render.js';
import {
  defaultThreadCount,
  leaseThreads,
  type PageRange,
  type PageRead,
  type ThreadDocument,
  type ThreadReply,
  type ThreadRequest,
} from './pdf-pool.js';
import { linesOfPage, renderMarkdownPages, type PdfLine, type RenderedPage } from './pdf-structure.js';
import { FanOutRequired, planParts } from '../fan-out.js';
import { binarise } from '../quality/binarise.js';
import { betterThan, DEFAULT_QUALITY, gradePage, type PageQuality, type QualityMode } from '../quality/grade.js';
import { pdfWarnings, planPages } from './page-facts.js';
import { baseMetadata, type LoadInput, type Loaded, type Loader, type PageFacts } from './types.js';

/** Pages per unit of work: small enough to balance readers, large enough to amortise messages. */
const BLOCK_PAGES = 12;

const round1 = (value: number): number => Math.round(value * 10) / 10;

/** A page's text as the text output gives it: PDFium's line ends as `\n`. */
const plainText = (text: string): string => text.replace(/\r\n?/g, '\n');

const roundBox = (box: readonly number[]): number[] => box.map(round1);

/** Reads a range of pages (1-based) of an open document: their text, or their lines for Markdown. */
const readRange = (
  doc: PdfiumDocument,
  { first, last }: PageRange,
  outputFormat: OutputFormat,
  includeBoxes: boolean,
  pictureBounds?: PictureBounds,
): PageRead[] => {
  const pages: PageRead[] = [];
  // A range's pages share one decode budget, and decode each distinct picture once.
  const budget = pictureBudget();
  for (let num = first; num <= last; num++) {
    const markdown = outputFormat === 'markdown';
    const page = readPageText(doc, num - 1, {
      runs: markdown,
      boxes: includeBoxes,
      pictures: pictureBounds ? { bounds: pictureBounds, budget } : undefined,
    });
    const { runs, rules, text, stats, drawn, images, lineYs, lineSizes, height, textHeight, toShown } = page;
    const layer = { ...stats, drawn, images };
    const place = {
      height: round1(height),
      textHeight: round1(textHeight),
      ...(page.pictures?.length
        ? { pictures: page.pictures.map((picture) => ({ ...picture, shown: shownBox(toShown, picture.box) })) }
        : {}),
    };
    if (markdown) {
      const lines = linesOfPage(runs, findTables(runs, rules));
      for (const line of lines) {
        if (includeBoxes && line.box) line.box = roundBox(shownBox(toShown, line.box));
        else delete line.box;
      }
      pages.push({ num, lines, layer, ...place });
    } else {
      pages.push({
        num,
        text: plainText(text),
        lineYs: lineYs.map(round1),
        lineSizes: lineSizes.map(round1),
        ...(includeBoxes
          ? { lineBoxes: page.lineBoxes.map((box) => (box.length === 4 ? roundBox(shownBox(toShown, box)) : [])) }
          : {}),
        layer,
        ...place,
      });
    }
  }
  return pages;
};

const isNamed = (error: unknown, name: string): boolean => (error as Error | undefined)?.name === name;

/** Failures from this thread or a PDF thread as stable codes (a PDF thread's AppError arrives by name and message). */
const classify = (error: unknown): unknown => {
  if (error instanceof AppError || error instanceof FanOutRequired || error === undefined) return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (isNamed(error, 'AppError') && typeof code === 'string') {
    return new AppError(code as ConstructorParameters<typeof AppError>[0], (error as Error).message);
  }
  return new AppError('DOCUMENT_PARSE_ERROR', 'The PDF could not be read.', { cause: error });
};

/** Runs in a PDF worker thread: keeps the current document open (in an engine instance of its own) and reads the ranges it is sent. */
export const servePdfThread = (): void => {
  const port = parentPort;
  if (!port) return;
  let open: { doc: number; document: Promise<PdfiumDocument> } | undefined;
  const closeOpen = () => void open?.document.then((document) => document.close()).catch(() => {});
  port.postMessage({ ready: true } satisfies ThreadReply);
  port.on('message', (request: ThreadRequest) => {
    if (request.type === 'close') {
      if (open?.doc === request.doc) closeOpen();
      open = undefined;
      return;
    }
    if (open?.doc !== request.doc && request.bytes) {
      closeOpen();
      open = { doc: request.doc, document: PdfiumDocument.open(request.bytes, request.maxMemoryBytes) };
    }
    if (!open || open.doc !== request.doc) {
      port.postMessage({ error: { name: 'Error', message: 'PDF thread has no open document' } });
      return;
    }
    open.document
      .then((document) =>
        readRange(document, request.range, request.outputFormat, request.includeBoxes, request.pictures),
      )
      .then(
        (pages) => port.postMessage({ pages }),
        (error: unknown) => {
          const { name, message } = error instanceof Error ? error : new Error(String(error));
          const code = error instanceof AppError ? error.code : undefined;
          port.postMessage({ error: { name, message, ...(code ? { code } : {}) } });
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
 * loop free (progress writes, time limits, cancellation): the engine reads a page
 * in one synchronous call, during which nothing else on its thread runs.
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

/**
 * Each page's content (its text, or Markdown made from the lines of all the
 * pages read) and where its parts stand: per line of text, per block of
 * Markdown, the boxes of its lines (with boxes asked for).
 */
const contentsOf = (pages: PageRead[], outputFormat: OutputFormat): RenderedPage[] => {
  if (outputFormat === 'markdown') {
    return renderMarkdownPages(pages.map((page): PdfLine[] => ('lines' in page ? page.lines : [])));
  }
  return pages.map((page) => {
    if (!('text' in page)) return { text: '', spans: [] };
    const spans: RenderedPage['spans'] = [];
    let start = 0;
    page.text.split('\n').forEach((line, index) => {
      const box = page.lineBoxes?.[index];
      if (box?.length === 4 && line.trim()) spans.push({ start, end: start + line.length, boxes: [box] });
      start += line.length + 1;
    });
    return { text: page.text, spans };
  });
};

/** The page's boxes for its content trimmed of `lead` characters at its start, each with its characters' range. */
const boxesOf = (rendered: RenderedPage, lead: number, length: number, page: number): PageBox[] =>
  rendered.spans.flatMap((span) => {
    const start = Math.max(0, span.start - lead);
    const end = Math.min(length, span.end - lead);
    if (end <= start) return [];
    return span.boxes.map(([x0 = 0, y0 = 0, x1 = 0, y1 = 0]) => ({ page, x0, y0, x1, y1, start, end }));
  });

/** A page's lines as placed on it, for finding its furniture. */
const placedLinesOf = (page: PageRead): PlacedLine[] =>
  'lines' in page
    ? page.lines.map((line) => ({
        text: line.text,
        y: line.sideways || line.turn ? Number.NaN : line.y,
        size: line.size,
      }))
    : page.text.split('\n').map((text, index) => ({
        text,
        y: page.lineYs[index] ?? Number.NaN,
        size: page.lineSizes[index] ?? 0,
      }));

/** Takes the running headers, footers and page numbers out of the pages (pdf/furniture.ts); per page, the lines taken. */
const takeFurniture = (pages: PageRead[]): string[][] => {
  const found = findFurniture(
    pages.map((page) => ({ lines: placedLinesOf(page), height: page.ocr ? page.height : page.textHeight })),
  );
  return pages.map((page, index) => {
    const drop = found[index];
    if (!drop?.size) return [];
    const taken: string[] = [];
    const keep = (text: string, at: number) => {
      if (!drop.has(at)) return true;
      taken.push(text.trim());
      return false;
    };
    if ('lines' in page) page.lines = page.lines.filter((line, at) => keep(line.text, at));
    else {
      page.lineBoxes = page.lineBoxes?.filter((_, at) => !drop.has(at));
      page.text = page.text.split('\n').filter(keep).join('\n');
    }
    return taken;
  });
};

/** Most pixels a PDF picture is decoded with (16 M: 64 MB of RGBA and as much of bitmap); a larger one is counted. */
const MAX_DECODED_PICTURE_PIXELS = 16_000_000;

/** A picture's box as shown, with its place in page space. */
type PlacedPicture = PdfPicture & { shown?: [number, number, number, number] };

/**
 * The page's pictures handed to the figure collector, top to bottom, each
 * with its caption: a line that opens with a figure label ("Figure 3:")
 * just below the picture, else just above it. In Markdown, the figure's
 * reference stands before its caption's line (or the first line below it).
 */
const placeFigures = (
  page: PageRead,
  rendered: RenderedPage,
  figures: FigureCollector,
  markdown: boolean,
  running: ReadonlySet<PdfPicture>,
): RenderedPage => {
  const lines = placedLinesOf(page).filter((line) => Number.isFinite(line.y) && line.text.trim());
  const pictures = [...((page.pictures ?? []) as PlacedPicture[])].sort((a, b) => b.box[3] - a.box[3]);
  let text = rendered.text;
  for (const picture of pictures) {
    const [, bottom, , top] = picture.box;
    const reach = (line: PlacedLine) => 3 * Math.max(line.size, 8) + 12;
    const below = lines.filter((line) => line.y < bottom && bottom - line.y <= reach(line)).sort((a, b) => b.y - a.y);
    const above = lines.filter((line) => line.y > top && line.y - top <= reach(line)).sort((a, b) => a.y - b.y);
    const caption = [...below, ...above].find((line) => isCaptionLine(line.text));
    const [x0 = 0, y0 = 0, x1 = 0, y1 = 0] = picture.shown ?? [];
    if (!picture.bytes && picture.overBudget) {
      figures.countOverLimit();
      continue;
    }
    if (Math.min(picture.box[2] - picture.box[0], top - bottom) < figures.limits.minFigurePoints) {
      figures.countSmall();
      continue;
    }
    if (!picture.bytes && picture.width * picture.height > MAX_DECODED_PICTURE_PIXELS) {
      figures.countTooLarge();
      continue;
    }
    const figure = figures.add({
      bytes: picture.bytes ?? (() => undefined),
      width: picture.width,
      height: picture.height,
      page: page.num,
      ...(picture.shown ? { bbox: { x0, y0, x1, y1 } } : {}),
      ...(caption ? { caption: caption.text, captionSource: 'label' as const } : {}),
    });
    // A running picture (a logo on every page) is placed where it first stands, and listed with all its pages.
    if (!figure || !markdown || running.has(picture)) continue;
    const anchor = caption ?? lines.filter((line) => line.y < bottom).sort((a, b) => b.y - a.y)[0];
    const reference = figureMarkdown(figure.id, figure.caption);
    const at = anchor ? lineStartOf(text, anchor.text) : -1;
    text = at >= 0 ? `${text.slice(0, at)}${reference}\n\n${text.slice(at)}` : `${text.trimEnd()}\n\n${reference}`;
  }
  // Spans (boxes) keep their characters' ranges only where nothing was inserted: with figures, Markdown boxes are per block as placed.
  return text === rendered.text ? rendered : { ...rendered, text, spans: shiftedSpans(rendered, text) };
};

/** Pages a picture must repeat on to be page furniture (a letterhead's logo, a banner, a separator). */
const RUNNING_PAGES = 3;

/**
 * The pictures that repeat as page furniture: the same bytes on at least
 * three pages, wherever they stand (a logo, a banner or a rule drawn as an
 * image); each but its first appearance is returned.
 */
const runningPictures = (pages: readonly PageRead[]): Set<PdfPicture> => {
  const seen = new Map<string, { pages: Set<number>; pictures: PdfPicture[] }>();
  for (const page of pages) {
    for (const picture of page.pictures ?? []) {
      if (!picture.bytes) continue;
      const digest = createHash('sha256').update(picture.bytes).digest('hex');
      const entry = seen.get(digest) ?? { pages: new Set<number>(), pictures: [] };
      entry.pages.add(page.num);
      entry.pictures.push(picture);
      seen.set(digest, entry);
    }
  }
  const running = new Set<PdfPicture>();
  for (const entry of seen.values()) {
    if (entry.pages.size >= RUNNING_PAGES) for (const picture of entry.pictures.slice(1)) running.add(picture);
  }
  return running;
};

/** Where the Markdown line holding `line`'s first words begins, or -1. */
const lineStartOf = (text: string, line: string): number => {
  const words = line.trim().split(/\s+/).slice(0, 6).join(' ');
  if (!words) return -1;
  const found = text.indexOf(words);
  if (found < 0) return -1;
  return text.lastIndexOf('\n', found) + 1;
};

/** The spans moved past the references inserted before them (each span's text is found again, in order). */
const shiftedSpans = (rendered: RenderedPage, text: string): RenderedPage['spans'] => {
  let from = 0;
  return rendered.spans.flatMap((span) => {
    const piece = rendered.text.slice(span.start, span.end);
    const at = text.indexOf(piece, from);
    if (at < 0) return [];
    from = at + piece.length;
    return [{ ...span, start: at, end: at + piece.length }];
  });
};

/** One document per page with content. */
const documentsOf = (pages: PageRead[], total: number, input: LoadInput): Document[] => {
  const furniture = takeFurniture(pages);
  const contents = contentsOf(pages, input.outputFormat);
  const documents: Document[] = [];
  const running = input.figures ? runningPictures(pages) : new Set<PdfPicture>();
  pages.forEach((page, index) => {
    let rendered = contents[index] ?? { text: '', spans: [] };
    if (input.figures && page.pictures?.length && !page.ocr) {
      rendered = placeFigures(page, rendered, input.figures, input.outputFormat === 'markdown', running);
    }
    const content = rendered.text.trim();
    if (content) {
      const lead = rendered.text.length - rendered.text.trimStart().length;
      documents.push({
        page_content: content,
        metadata: {
          ...baseMetadata(input),
          page: page.num,
          total_pages: total,
          ...(page.ocr ? { ocr: true, ocr_confidence: Math.round(page.ocr.confidence * 100) / 100 } : {}),
          ...(furniture[index]?.length ? { furniture: furniture[index] } : {}),
          ...(page.quality ? { quality: page.quality } : {}),
          ...(input.includeBoxes ? { boxes: boxesOf(rendered, lead, content.length, page.num) } : {}),
        },
      });
    }
  });
  return documents;
};

/** The share of progress the text layer takes when pages may be recognised after it (OCR is slower by far). */
const TEXT_PROGRESS_SHARE = 0.1;

/** A page's text as its grade reads it: the text, or its lines'. */
const textOfPage = (page: PageRead): string =>
  'lines' in page ? page.lines.map((line) => line.text).join('\n') : page.text;

/** The text layer's grade of a page (quality/grade.ts). */
const gradeTextLayer = (page: PageRead): PageQuality =>
  gradePage({ text: textOfPage(page), rung: 'text_layer', layer: page.layer, drawn: page.layer.drawn });

/**
 * Whether a page goes past its text layer: OCR as `ocr` says (a page
 * without a usable text layer under `auto`, every page under `force`),
 * and, under `quality=auto`, a text layer graded poor; under `best`,
 * every page OCR may read.
 */
const toRecognise = (ocr: OcrRequest, quality: QualityMode, page: PageRead & { quality: PageQuality }): boolean => {
  if (needsOcr(ocr.mode, page.layer)) return true;
  if (ocr.mode === 'off') return false;
  if (quality === 'best') return true;
  return quality === 'auto' && page.quality.grade === 'poor';
};

/** What a page's reading is: kept aside while a higher rung is tried, put back if that one is no better. */
const readingOf = (page: PageRead) =>
  'lines' in page
    ? { lines: page.lines, ocr: page.ocr, quality: page.quality }
    : {
        text: page.text,
        lineYs: page.lineYs,
        lineSizes: page.lineSizes,
        lineBoxes: page.lineBoxes,
        ocr: page.ocr,
        quality: page.quality,
      };

/** Reads the page by OCR at the rung's resolution (the top rung binarised): its text or lines replace the page's. */
const readByOcr = async (
  doc: PdfiumDocument,
  page: PageRead,
  input: LoadInput & { ocr: OcrRequest },
  rung: 'ocr' | 'ocr_hires',
): Promise<PageQuality> => {
  const dpi = rung === 'ocr_hires' ? input.limits.ocrHighDpi : input.limits.ocrDpi;
  const image = renderPageGray(doc, page.num - 1, dpi, input.limits.maxOcrPixels);
  if (rung === 'ocr_hires') binarise(image.pixels);
  const read = await recognise(input.ocr.languages, { kind: 'gray', ...image });
  page.ocr = { confidence: read.confidence };
  const scale = 72 / image.dpi;
  const recognised = ocrLinesOf(read, image);
  const shown = (box: readonly number[]) => box.map((value) => Math.round(value * scale * 10) / 10);
  if ('lines' in page) {
    page.lines = linesOfOcr(read, scale, image.heightPt);
    if (input.includeBoxes) {
      page.lines.forEach((line, at) => {
        const box = recognised[at]?.box;
        if (box) line.box = shown(box);
      });
    }
  } else {
    // The text as the lines read it, each line placed (for furniture, and boxes when asked for).
    page.text = textOfOcrLines(recognised);
    page.lineYs = [];
    page.lineSizes = [];
    const boxes: number[][] = [];
    recognised.forEach((line, at) => {
      if (at > 0 && line.opens) {
        page.lineYs.push(Number.NaN);
        page.lineSizes.push(0);
        boxes.push([]);
      }
      const [, y0, , y1] = shown(line.box) as [number, number, number, number];
      page.lineYs.push(Math.round((image.heightPt - (y0 + y1) / 2) * 10) / 10);
      page.lineSizes.push(Math.round((y1 - y0) * 10) / 10);
      boxes.push(shown(line.box));
    });
    page.lineBoxes = input.includeBoxes ? boxes : undefined;
  }
  return gradePage({
    text: textOfPage(page),
    rung,
    drawn: page.layer.drawn,
    ocr: { confidence: read.confidence, lowConfidenceShare: read.lowConfidenceShare, languages: input.ocr.languages },
  });
};

/**
 * The reading ladder (quality/grade.ts), one page after another on this
 * thread: each chosen page is recognised at the first OCR rung (the top one
 * under `best`) and, under `auto`, one rung higher while it is still poor.
 * A page keeps the best reading by grade (the cheaper one at a tie); a page
 * without a usable text layer, or any page under `ocr=force`, keeps OCR's.
 */
const climbLadder = async (
  doc: PdfiumDocument,
  pages: Array<PageRead & { quality: PageQuality }>,
  input: LoadInput & { ocr: OcrRequest },
  quality: QualityMode,
  textShare: number,
) => {
  const chosen = pages.filter((page) => toRecognise(input.ocr, quality, page));
  let done = 0;
  for (const page of chosen) {
    const mustReplace = needsOcr(input.ocr.mode, page.layer);
    const tried = [`text_layer ${page.quality.grade}`];
    const rungs: Array<'ocr' | 'ocr_hires'> = quality === 'best' ? ['ocr_hires'] : ['ocr', 'ocr_hires'];
    for (const [index, rung] of rungs.entries()) {
      if (index > 0 && (quality !== 'auto' || page.quality.grade !== 'poor')) break;
      await input.checkpoint();
      const kept = readingOf(page);
      const keptQuality = page.quality;
      const graded = await readByOcr(doc, page, input, rung);
      tried.push(`${rung} ${graded.grade}`);
      if ((index === 0 && mustReplace) || betterThan(graded, keptQuality)) page.quality = graded;
      else Object.assign(page, kept);
    }
    page.quality = { ...page.quality, tried };
    done++;
    input.onProgress?.(textShare + (1 - textShare) * (done / chosen.length));
  }
};

export const loadPdf: Loader = async (input): Promise<Loaded> => {
  await input.checkpoint();
  let doc: PdfiumDocument | undefined;
  let lease: ReturnType<typeof leaseThreads> | undefined;
  let failed = false;
  try {
    const opened = await PdfiumDocument.open(input.bytes, input.limits.maxPdfMemoryBytes);
    doc = opened;
    const total = opened.pageCount;
    const { present } = planPages(input.pages, total);
    const blocks = blocksOf(present);
    const reading = pageCount(blocks);
    checkPageLimit(reading, total, input);
    const leased = leaseThreads(threadsFor(reading, blocks.length, input), input.limits.pdfThreadHeapMb);
    lease = leased;
    const pictureBounds = input.figures
      ? {
          minSide: input.figures.limits.minFigureSide,
          maxPixels: input.figures.limits.maxFigurePixels,
          // Decoded inside the engine's capped memory (its pixels and their RGBA copy): a bound of its own, so that
          // one large picture never costs the document its reading.
          maxDecodedPixels: MAX_DECODED_PICTURE_PIXELS,
          maxBytes: input.figures.limits.maxFigureBytes,
          minPoints: input.figures.limits.minFigurePoints,
        }
      : undefined;
    const threadDocument: ThreadDocument = {
      bytes: input.bytes,
      maxMemoryBytes: input.limits.maxPdfMemoryBytes,
      outputFormat: input.outputFormat,
      includeBoxes: input.includeBoxes === true,
      ...(pictureBounds ? { pictures: pictureBounds } : {}),
    };
    // A thread that dies (out of memory) fails the document: its pages never move to a thread with more room.
    const readers: ReadBlock[] = leased.threads.length
      ? leased.threads.map((thread) => (range: PageRange) => thread.read(leased.doc, threadDocument, range))
      : [async (range) => readRange(opened, range, input.outputFormat, input.includeBoxes === true, pictureBounds)];
    const ocr = input.ocr ?? DEFAULT_OCR;
    const textShare = ocr.mode === 'off' ? 1 : TEXT_PROGRESS_SHARE;
    const pages = await readBlocks(readers, blocks, {
      ...input,
      onProgress: (done) => input.onProgress?.(done * textShare),
    });
    const quality = input.quality ?? DEFAULT_QUALITY;
    const graded = pages.map((page) => Object.assign(page, { quality: gradeTextLayer(page) }));
    if (input.fanOut) {
      const chosen = graded.filter((page) => toRecognise(ocr, quality, page)).map((page) => page.num);
      if (chosen.length >= input.fanOut.minOcrPages) {
        const plan = planParts(
          pages.map((page) => page.num),
          new Set(chosen),
          input.fanOut.pagesPerPart,
          total,
        );
        if (plan.parts.length > 1) throw new FanOutRequired(plan);
      }
    }
    await climbLadder(opened, graded, { ...input, ocr }, quality, textShare);
    const documents = documentsOf(pages, total, input);
    // Pictures on pages not recognised are left out: say how many (ocr=force reads them with their page).
    const pictures = pages.reduce((sum, page) => sum + (page.ocr ? 0 : (page.layer.images ?? 0)), 0);
    const facts: PageFacts = {
      pictures,
      recognised: pages.flatMap((page) => (page.ocr ? [{ page: page.num, ...page.ocr }] : [])),
      quality: graded.map((page) => ({ page: page.num, quality: page.quality })),
    };
    const warnings = pdfWarnings(facts, input.pages, total);
    return { documents, pages: total, facts, ...(warnings.length ? { warnings } : {}) };
  } catch (error) {
    failed = !(error instanceof FanOutRequired);
    throw classify(error);
  } finally {
    // A failed or aborted read may leave a thread busy; replace it rather than wait.
    await lease?.release({ kill: failed });
    doc?.close();
  }
};
