import { createHash } from 'node:crypto';
import { chunkDocuments } from './chunking.js';
import type { Document, DocumentFormat, ProcessingResult, ResultWarning } from './document.js';
import { detectFormat } from './detect.js';
import { AppError } from '../errors.js';
import { DEFAULT_LIMITS, type ProcessingLimits } from './limits.js';
import type { FanOutSettings } from './fan-out.js';
import { loaderFor } from './loaders/index.js';
import { FACT_WARNINGS, pdfWarnings } from './loaders/page-facts.js';
import { summarise } from './quality/grade.js';
import type { PageFacts } from './loaders/types.js';
import { parseOcrLanguages } from './ocr/languages.js';
import { DEFAULT_OCR, type OcrRequest } from './ocr/recognise.js';
import { parsePageSelection, type PageSelection, type ProcessingOptions } from './options.js';
import { monotonicProgress, type ProgressListener } from './progress.js';
import { figureIdsIn } from './figures/captions.js';
import { MAX_RECOGNISED_FIGURES, recogniseFigures } from './figures/figure-text.js';
import {
  DEFAULT_FIGURE_LIMITS,
  FigureCollector,
  addLeftOut,
  figureWarnings,
  boundedFigures,
  mergeFigures,
  noLeftOut,
  type Figure,
  type FigureImage,
  type FiguresLeftOut,
} from './figures/figures.js';

export interface DocumentInput {
  bytes: Uint8Array;
  /** File name as the client gave it (data only: never used as a path). */
  filename: string;
  /** Content type the client or the remote server declared, if any. */
  contentType?: string | undefined;
  /** `metadata.source`: the file name, URL or s3 URI. Defaults to `filename`. */
  source?: string | undefined;
}

export interface ProcessContext {
  onProgress?: ProgressListener | undefined;
  /**
   * Checked between stages and between blocks of pages. Abort it with an
   * a RunStopped or an AppError as the reason: that error is what
   * `processDocument` throws.
   */
  signal?: AbortSignal | undefined;
  /**
   * Epoch ms after which processing stops with SOFT_TIME_LIMIT. Compared with
   * the clock at each checkpoint rather than left to a timer: the PDF engine
   * reads a block of pages without giving timers a turn.
   */
  deadline?: number | undefined;
  limits?: Partial<ProcessingLimits> | undefined;
  /** Let a PDF with many pages to recognise be read in parts: processing then throws FanOutRequired (fan-out.ts). */
  fanOut?: FanOutSettings | undefined;
}

const checkpointFor = (signal: AbortSignal | undefined, deadline: number | undefined) => async (): Promise<void> => {
  await new Promise<void>((resolve) => setImmediate(resolve));
  signal?.throwIfAborted();
  if (deadline !== undefined && Date.now() > deadline) {
    throw new AppError(
      'SOFT_TIME_LIMIT',
      'Processing stopped at the soft time limit before it finished; split the document or retry it on the large queue.',
    );
  }
};

const ocrRequestOf = (options: ProcessingOptions): OcrRequest => {
  const languages = options.ocr_languages === undefined ? undefined : parseOcrLanguages(options.ocr_languages);
  return {
    mode: options.ocr ?? DEFAULT_OCR.mode,
    languages: Array.isArray(languages) ? languages : DEFAULT_OCR.languages,
  };
};

const pageSelectionOf = (options: ProcessingOptions): PageSelection | undefined => {
  if (options.pages === undefined) return undefined;
  const selection = parsePageSelection(options.pages);
  if (typeof selection === 'string') throw new AppError('VALIDATION_ERROR', `pages: ${selection}`);
  return selection;
};

/**
 * One read of a document, or of a range of its pages (fan-out.ts): its
 * documents before chunking, and what its warnings are made of.
 */
export interface ReadPart {
  filename: string;
  format: DocumentFormat;
  /** Pages in the file, for formats that have them. */
  pages?: number | undefined;
  documents: Document[];
  warnings: ResultWarning[];
  facts?: PageFacts | undefined;
  /** With `figures` on: the pictures kept, their bytes, and those left out. */
  figures?: { list: Figure[]; images: FigureImage[]; leftOut: FiguresLeftOut } | undefined;
}

/** The input as the finished result describes it: its name, size and digest (chunk ids derive from it). */
export interface SourceSummary {
  filename: string;
  bytes: number;
  sha256: () => string;
}

export const sourceSummaryOf = (input: DocumentInput): SourceSummary => {
  let digest: string | undefined;
  return {
    filename: input.filename,
    bytes: input.bytes.length,
    sha256: () => (digest ??= createHash('sha256').update(input.bytes).digest('hex')),
  };
};

interface Run {
  limits: ProcessingLimits;
  checkpoint: () => Promise<void>;
  report: ReturnType<typeof monotonicProgress>;
}

const runOf = (context: ProcessContext): Run => ({
  limits: { ...DEFAULT_LIMITS, ...context.limits },
  checkpoint: checkpointFor(context.signal, context.deadline),
  report: monotonicProgress(context.onProgress),
});

const read = async (input: DocumentInput, options: ProcessingOptions, context: ProcessContext, run: Run) => {
  const { limits, checkpoint, report } = run;
  if (input.bytes.length > limits.maxInputBytes) {
    throw new AppError(
      'DOCUMENT_TOO_LARGE',
      `The document is ${input.bytes.length} bytes; the limit is ${limits.maxInputBytes}.`,
    );
  }
  await checkpoint();
  report('parsing', 0);
  const format = detectFormat(input.bytes, input.filename, input.contentType);
  const load = await loaderFor(format);
  const figureMode = options.figures ?? 'off';
  const figures = figureMode === 'off' ? undefined : new FigureCollector(DEFAULT_FIGURE_LIMITS);
  const loaded = await load({
    bytes: input.bytes,
    filename: input.filename,
    source: input.source ?? input.filename,
    contentType: input.contentType,
    limits,
    outputFormat: options.output_format ?? 'text',
    pages: pageSelectionOf(options),
    ocr: ocrRequestOf(options),
    includeBoxes: options.include_boxes === true,
    quality: options.quality,
    figures,
    fanOut: context.fanOut,
    signal: context.signal,
    checkpoint,
    onProgress: (fraction) => report('parsing', fraction),
  });
  await checkpoint();
  const recognised =
    figures && figureMode === 'ocr'
      ? await recogniseFigures(figures, ocrRequestOf(options).languages, checkpoint)
      : { unread: 0, failed: 0 };

  const part: ReadPart = {
    filename: input.filename,
    format,
    pages: loaded.pages,
    documents: figures
      ? withFigureIds(loaded.documents, figures.figures(), options.output_format ?? 'text')
      : loaded.documents,
    warnings: [
      ...(loaded.warnings ?? []),
      ...(recognised.unread
        ? [
            {
              code: 'FIGURES_LEFT_OUT' as const,
              message: `${recognised.unread} figures past the first ${MAX_RECOGNISED_FIGURES} were not recognised (figures=ocr): they have no text.`,
            },
          ]
        : []),
      ...(recognised.failed
        ? [
            {
              code: 'FIGURES_LEFT_OUT' as const,
              message: `${recognised.failed} figures could not be decoded for recognition (figures=ocr): they have no text.`,
            },
          ]
        : []),
    ],
    facts: loaded.facts,
    ...(figures ? { figures: { list: figures.figures(), images: figures.stored(), leftOut: figures.leftOut } } : {}),
  };
  return part;
};

/**
 * `metadata.figures` of each document: the figures it stands with. In
 * Markdown, those its text refers to (`figure:ID`); in text, those its
 * reader placed in it (a chapter, an attachment), else those of its page or
 * slide, else every one when the format makes a single document.
 */
const withFigureIds = (documents: Document[], figures: readonly Figure[], outputFormat: string): Document[] => {
  if (!figures.length) return documents;
  const idsOf = (document: Document): string[] => {
    const { figures: placed } = document.metadata;
    if (outputFormat === 'markdown') {
      return [
        ...new Set([...figureIdsIn(document.page_content), ...(Array.isArray(placed) ? (placed as string[]) : [])]),
      ];
    }
    if (Array.isArray(placed)) return placed as string[];
    const page = document.metadata.page ?? document.metadata.slide;
    if (typeof page === 'number') {
      return figures.filter((figure) => figure.page === page || figure.pages?.includes(page)).map(({ id }) => id);
    }
    return documents.length === 1 ? figures.map(({ id }) => id) : [];
  };
  return documents.map((document) => {
    const ids = idsOf(document);
    const { figures: _placed, ...metadata } = document.metadata;
    return ids.length ? { ...document, metadata: { ...metadata, figures: ids } } : { ...document, metadata };
  });
};

/**
 * Reads a document (or the pages `options.pages` selects) without finishing
 * it: what a part of a fanned-out document is (fan-out.ts).
 */
export const readDocument = async (
  input: DocumentInput,
  options: ProcessingOptions,
  context: ProcessContext = {},
): Promise<ReadPart> => read(input, options, context, runOf(context));

/** One warning per fact of the whole document, the others once each, in the parts' order. */
const warningsOfParts = (parts: readonly ReadPart[], options: ProcessingOptions): ResultWarning[] => {
  if (parts.length === 1) return [...(parts[0]?.warnings ?? [])];
  const seen = new Set<string>();
  const others = parts
    .flatMap((part) => part.warnings)
    .filter((warning) => !FACT_WARNINGS.has(warning.code))
    .filter((warning) => {
      const key = `${warning.code}\n${warning.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  const withFacts = parts.filter((part) => part.facts);
  if (!withFacts.length) return others;
  const facts: PageFacts = {
    pictures: withFacts.reduce((sum, part) => sum + (part.facts?.pictures ?? 0), 0),
    recognised: withFacts.flatMap((part) => part.facts?.recognised ?? []),
  };
  const noun = parts[0]?.format === 'pdf' ? 'PDF' : 'TIFF';
  return [...pdfWarnings(facts, pageSelectionOf(options), parts[0]?.pages ?? 0, noun), ...others];
};

const finish = async (
  source: SourceSummary,
  parts: readonly ReadPart[],
  options: ProcessingOptions,
  run: Run,
): Promise<ProcessingResult> => {
  const { limits, checkpoint, report } = run;
  const first = parts[0];
  if (!first) throw new Error('A result needs at least one part.');
  const { format } = first;
  const pages = first.pages;
  const read = parts.flatMap((part) => part.documents);
  const withFigures = parts.filter((part) => part.figures);
  // Parts read apart (fan-out) each kept within the limits: the whole is held to them again.
  const merged = withFigures.length
    ? boundedFigures(mergeFigures(withFigures.map((part) => part.figures?.list ?? [])), DEFAULT_FIGURE_LIMITS)
    : undefined;
  const figures = merged?.kept;
  let documents = read;
  if (options.split) {
    report('splitting', 0);
    documents = await chunkDocuments(documents, options, { limits, checkpoint, sourceDigest: source.sha256, figures });
    report('splitting', 1);
  }
  if (documents.length > limits.maxDocuments) {
    throw new AppError(
      'DOCUMENT_TOO_LARGE',
      `Processing produced ${documents.length} documents; the limit is ${limits.maxDocuments}. Use a larger chunk_size.`,
    );
  }

  const warnings = warningsOfParts(parts, options);
  if (options.pages !== undefined && pages === undefined) {
    warnings.push({
      code: 'PAGES_IGNORED',
      message: `pages applies to paged formats (PDF); the whole ${format.toUpperCase()} document was read.`,
    });
  }
  if (read.length === 0) {
    warnings.push({
      code: 'NO_TEXT',
      message:
        format === 'pdf'
          ? options.ocr === 'off'
            ? 'The PDF has no text layer, and ocr=off: scanned pages were not recognised (ocr=auto reads them).'
            : 'The PDF has no text: no page has a text layer, and OCR found no text on its pages.'
          : 'The document contains no text.',
    });
  }
  const characters = read.reduce((sum, doc) => sum + doc.page_content.length, 0);
  const quality = summarise(parts.flatMap((part) => part.facts?.quality ?? []));
  if (withFigures.length) {
    const leftOut = withFigures.reduce(
      (sum, part) => addLeftOut(sum, part.figures?.leftOut ?? noLeftOut()),
      noLeftOut(),
    );
    warnings.push(...figureWarnings({ ...leftOut, overLimit: leftOut.overLimit + (merged?.dropped ?? 0) }));
  }
  const result: ProcessingResult = {
    status: 'success',
    filename: source.filename,
    format,
    document_count: documents.length,
    documents,
    warnings,
    stats: {
      bytes: source.bytes,
      ...(pages === undefined ? {} : { pages }),
      characters,
      ...(figures ? { figures: figures.length } : {}),
    },
    ...(figures ? { figures } : {}),
    ...(quality ? { quality } : {}),
  };
  if (figures) {
    const kept = new Set(figures.map(({ id }) => id));
    const images = new Map(
      withFigures
        .flatMap((part) => part.figures?.images ?? [])
        .filter((image) => kept.has(image.id))
        .map((image) => [image.id, image]),
    );
    STORED_FIGURES.set(result, [...images.values()]);
  }
  return result;
};

const STORED_FIGURES = new WeakMap<ProcessingResult, FigureImage[]>();

/** The bytes of a finished result's figures (none with `figures` off), for the worker to store beside it. */
export const storedFiguresOf = (result: ProcessingResult): FigureImage[] => STORED_FIGURES.get(result) ?? [];

/**
 * The result of a document read in parts (fan-out.ts), in part order: as if
 * it had been read at once, chunked as a whole (chunk ids, `maxDocuments`),
 * its warnings made once from the parts' facts.
 */
export const finishResult = (
  source: SourceSummary,
  parts: readonly ReadPart[],
  options: ProcessingOptions,
  context: ProcessContext = {},
): Promise<ProcessingResult> => finish(source, parts, options, runOf(context));

/**
 * Bytes in, the `result` object of API.md out; no AWS, no I/O. Throws an
 * AppError with a stable code when the document cannot be processed.
 */
export const processDocument = async (
  input: DocumentInput,
  options: ProcessingOptions,
  context: ProcessContext = {},
): Promise<ProcessingResult> => {
  const run = runOf(context);
  const part = await read(input, options, context, run);
  return finish(sourceSummaryOf(input), [part], options, run);
};
