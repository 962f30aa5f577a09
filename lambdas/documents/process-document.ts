import { createHash } from 'node:crypto';
import { chunkDocuments } from './chunking.js';
import type { ProcessingResult, ResultWarning } from './document.js';
import { detectFormat } from './detect.js';
import { AppError } from '../errors.js';
import { DEFAULT_LIMITS, type ProcessingLimits } from './limits.js';
import { loaderFor } from './loaders/index.js';
import { parseOcrLanguages } from './ocr/languages.js';
import { DEFAULT_OCR, type OcrRequest } from './ocr/recognise.js';
import { parsePageSelection, type PageSelection, type ProcessingOptions } from './options.js';
import { monotonicProgress, type ProgressListener } from './progress.js';

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
 * Bytes in, the `result` object of API.md out; no AWS, no I/O. Throws an
 * AppError with a stable code when the document cannot be processed.
 */
export const processDocument = async (
  input: DocumentInput,
  options: ProcessingOptions,
  context: ProcessContext = {},
): Promise<ProcessingResult> => {
  const limits: ProcessingLimits = { ...DEFAULT_LIMITS, ...context.limits };
  const { signal } = context;
  const checkpoint = checkpointFor(signal, context.deadline);
  const report = monotonicProgress(context.onProgress);
  const source = input.source ?? input.filename;

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
  const loaded = await load({
    bytes: input.bytes,
    filename: input.filename,
    source,
    contentType: input.contentType,
    limits,
    outputFormat: options.output_format ?? 'text',
    pages: pageSelectionOf(options),
    ocr: ocrRequestOf(options),
    includeBoxes: options.include_boxes === true,
    signal,
    checkpoint,
    onProgress: (fraction) => report('parsing', fraction),
  });
  await checkpoint();

  let documents = loaded.documents;
  if (options.split) {
    report('splitting', 0);
    documents = await chunkDocuments(documents, options, {
      limits,
      checkpoint,
      sourceDigest: () => createHash('sha256').update(input.bytes).digest('hex'),
    });
    report('splitting', 1);
  }
  if (documents.length > limits.maxDocuments) {
    throw new AppError(
      'DOCUMENT_TOO_LARGE',
      `Processing produced ${documents.length} documents; the limit is ${limits.maxDocuments}. Use a larger chunk_size.`,
    );
  }

  const warnings: ResultWarning[] = [...(loaded.warnings ?? [])];
  if (options.pages !== undefined && loaded.pages === undefined) {
    warnings.push({
      code: 'PAGES_IGNORED',
      message: `pages applies to paged formats (PDF); the whole ${format.toUpperCase()} document was read.`,
    });
  }
  if (loaded.documents.length === 0) {
    warnings.push({
      code: 'NO_TEXT',
      message:
        format === 'pdf'
          ? 'The PDF has no extractable text (a scanned PDF needs OCR, which this service does not do).'
          : 'The document contains no text.',
    });
  }
  const characters = loaded.documents.reduce((sum, doc) => sum + doc.page_content.length, 0);
  return {
    status: 'success',
    filename: input.filename,
    format,
    document_count: documents.length,
    documents,
    warnings,
    stats: { bytes: input.bytes.length, ...(loaded.pages === undefined ? {} : { pages: loaded.pages }), characters },
  };
};
