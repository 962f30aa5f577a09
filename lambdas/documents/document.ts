import { AppError } from '../errors.js';
import type { PageQuality, QualitySummary } from './quality/grade.js';
import type { Figure, FigureImage } from './figures/figures.js';

/**
 * Where text stands on a page (option `include_boxes`): a line's box in
 * points, the origin at the page's top left as it is shown (after its
 * rotation), `y` growing downwards. On a page document, `start` and `end`
 * are the line's characters in its `page_content`.
 */
export interface PageBox {
  page: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  start?: number;
  end?: number;
}

/** `headings` (a chunk's heading path) and `furniture` are lists of text; `boxes` of page boxes; `quality` a page's report. */
export type Metadata = Record<string, string | number | boolean | null | string[] | PageBox[] | PageQuality>;

/** A LangChain-style document. */
export interface Document {
  page_content: string;
  metadata: Metadata;
}

export interface ResultWarning {
  /** `ATTACHMENT_SKIPPED`: an e-mail attachment that was not read (unsupported, damaged, or past a bound); the mail was. */
  /** `OCR_LOW_CONFIDENCE`: recognised pages whose mean confidence is below 60 % (named, with their confidence). */
  /** `CONTENT_NOT_READ`: pictures, embedded objects or diagrams the reader leaves out, with their counts. */
  code:
    | 'NO_TEXT'
    | 'TRUNCATED'
    | 'PAGES_OUT_OF_RANGE'
    | 'PAGES_IGNORED'
    | 'ATTACHMENT_SKIPPED'
    | 'OCR_LOW_CONFIDENCE'
    | 'CONTENT_NOT_READ'
    /** Pictures not stored as figures (`figures` on), by reason and count. */
    | 'FIGURES_LEFT_OUT'
    /** Figures without a description (`figures=describe`): past the per-task bound, or the model failed. */
    | 'FIGURES_NOT_DESCRIBED';
  message: string;
}

export const DOCUMENT_FORMATS = ['pdf', 'docx', 'html', 'text', 'pptx', 'xlsx', 'epub', 'odt', 'eml', 'image'] as const;
export type DocumentFormat = (typeof DOCUMENT_FORMATS)[number];

/** The `result` object of a successful task (API.md, "Processing result"). */
export interface ProcessingResult {
  status: 'success';
  filename: string;
  format: DocumentFormat;
  document_count: number;
  documents: Document[];
  warnings: ResultWarning[];
  stats: { bytes: number; pages?: number; characters: number; figures?: number };
  /** The pictures kept (option `figures`), in the order they stand: docs/results.md, "Figures". */
  figures?: Figure[];
  /** How well the pages were read (PDF and images): pages by grade and by rung, the poor ones. */
  quality?: QualitySummary;
}

/** A result without its documents and its figures' list (`stats.figures` counts them): what a task row keeps. */
export type ResultHeadline = Omit<ProcessingResult, 'documents' | 'figures'>;

export const headlineOf = ({
  documents: _documents,
  figures: _figures,
  ...headline
}: ProcessingResult): ResultHeadline => headline;

/** A result as the worker stores it: its JSON, what the task row keeps of it, and its figures' bytes. */
export interface SerializedResult {
  headline: ResultHeadline;
  json: Uint8Array;
  /** Stored beside the result before it (absent or empty with `figures` off). */
  figures?: FigureImage[] | undefined;
}

const DOCUMENTS_PLACEHOLDER = '"documents":[]';

/**
 * `JSON.stringify(result)` as UTF-8, byte for byte, built one document at a
 * time so that a result over `maxBytes` stops at the document that crosses
 * the cap instead of after the whole string has been made. (`"documents":[]`
 * can only be the key: quotes inside string values are escaped.)
 */
export const serializeResult = (result: ProcessingResult, maxBytes: number): SerializedResult => {
  const headline = headlineOf(result);
  const outline = JSON.stringify({ ...result, documents: [] });
  if (Buffer.byteLength(outline) > maxBytes) {
    throw new AppError(
      'DOCUMENT_TOO_LARGE',
      `The result's outline (warnings, figures) is larger than ${Math.floor(maxBytes / 1024 / 1024)} MB of JSON.`,
    );
  }
  const at = outline.indexOf(DOCUMENTS_PLACEHOLDER);
  const parts: string[] = [outline.slice(0, at), '"documents":['];
  let bytes = Buffer.byteLength(outline);
  result.documents.forEach((document, index) => {
    const json = JSON.stringify(document);
    bytes += Buffer.byteLength(json) + (index > 0 ? 1 : 0);
    if (bytes > maxBytes) {
      throw new AppError(
        'DOCUMENT_TOO_LARGE',
        `The result would be larger than ${Math.floor(maxBytes / 1024 / 1024)} MB of JSON; use a larger chunk_size or a smaller chunk_overlap, or split the document.`,
      );
    }
    if (index > 0) parts.push(',');
    parts.push(json);
  });
  parts.push(']', outline.slice(at + DOCUMENTS_PLACEHOLDER.length));
  // TextEncoder gives the bytes a buffer of their own, so they can be transferred between threads.
  return { headline, json: new TextEncoder().encode(parts.join('')) };
};
