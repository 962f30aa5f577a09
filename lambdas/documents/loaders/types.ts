import type { Document, ResultWarning } from '../document.js';
import type { ProcessingLimits } from '../limits.js';
import type { OcrRequest } from '../ocr/recognise.js';
import type { FanOutSettings } from '../fan-out.js';
import type { PageQuality, QualityMode } from '../quality/grade.js';
import type { OutputFormat, PageSelection } from '../options.js';
import type { FigureCollector } from '../figures/figures.js';

export interface LoadInput {
  bytes: Uint8Array;
  filename: string;
  /** What `metadata.source` says: the file name, URL or s3 URI. */
  source: string;
  contentType?: string | undefined;
  limits: ProcessingLimits;
  /** `text`: today's flat text. `markdown`: headings, lists, links and tables kept (docs/results.md, "Output formats"). */
  outputFormat: OutputFormat;
  /** Which pages are recognised, in which languages (PDF and image inputs; others ignore it); absent: `DEFAULT_OCR`. */
  ocr?: OcrRequest | undefined;
  /** How far poorly read pages climb the reading ladder (PDF; absent: `auto`). */
  quality?: QualityMode | undefined;
  /** PDF and image pages say where each line stands (`metadata.boxes`); others ignore it. */
  includeBoxes?: boolean | undefined;
  /**
   * Present with option `figures` on: the reader hands it every picture it
   * finds, in reading order, and places a reference where each one stands
   * (Markdown `![caption](figure:ID)`; `metadata.figures` lists a document's).
   */
  figures?: FigureCollector | undefined;
  /** Paged formats read only these pages (1-based, sorted, merged); others ignore it. */
  pages?: PageSelection | undefined;
  /**
   * When set, a PDF with at least `minOcrPages` pages to recognise is not
   * read here: the reader throws FanOutRequired with the plan of its parts
   * once its text layer is read (fan-out.ts).
   */
  fanOut?: FanOutSettings | undefined;
  /**
   * Called between units of work (blocks of pages, stages). It yields to the
   * event loop, so that timers and I/O (progress writes, cancellation) get a
   * turn, then throws if the task was cancelled or ran out of time.
   */
  checkpoint: () => Promise<void>;
  /** Aborted on cancellation; the reader threads stop at once. */
  signal?: AbortSignal | undefined;
  /** Fraction (0–1) of the loading done so far. */
  onProgress?: ((fraction: number) => void) | undefined;
}

export interface Loaded {
  documents: Document[];
  /** Pages in the file, for formats that have them. */
  pages?: number;
  /** What the caller should know about the load (pages asked for that the file does not have). */
  warnings?: ResultWarning[];
  /** What the warnings of a paged format are made of (PDF), so that parts read apart can be warned about as one. */
  facts?: PageFacts;
}

/**
 * What a paged reader saw, beyond its documents, that its warnings are made
 * of: kept as facts so that the warnings of a document read in parts (see
 * fan-out.ts and page-facts.ts) are those of the whole, not one per part.
 */
export interface PageFacts {
  /** Pictures on pages that were not recognised. */
  pictures: number;
  /** Recognised pages and their mean confidence (0–1). */
  recognised: Array<{ page: number; confidence: number }>;
  /** Every page read, with how well (quality/grade.ts): a page that gave no text is here too. */
  quality?: Array<{ page: number; quality: PageQuality }> | undefined;
}

export type Loader = (input: LoadInput) => Promise<Loaded>;

export const baseMetadata = (input: LoadInput) => ({ source: input.source, filename: input.filename });

/** Newlines as `\n`, the ends trimmed: how every loader hands its text over. */
export const normalizedText = (text: string): string => text.replace(/\r\n?/g, '\n').trim();

/** A format read as one document (DOCX, ODT): none when it has no text (the pipeline then warns NO_TEXT). */
export const singleDocument = (input: LoadInput, text: string): Loaded => {
  const content = normalizedText(text);
  return { documents: content ? [{ page_content: content, metadata: baseMetadata(input) }] : [] };
};

/** What a reader saw and left out: pictures (not recognised), embedded objects (OLE), diagrams (SmartArt). */
export interface NotRead {
  pictures?: number;
  objects?: number;
  diagrams?: number;
}

const counted = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

/** One `CONTENT_NOT_READ` warning with the counts, or none: nothing a document holds is left out in silence. */
export const notReadWarnings = (notRead: NotRead, where: string): ResultWarning[] => {
  const parts = [
    notRead.pictures ? counted(notRead.pictures, 'picture', 'pictures') : '',
    notRead.objects ? counted(notRead.objects, 'embedded object', 'embedded objects') : '',
    notRead.diagrams ? counted(notRead.diagrams, 'diagram', 'diagrams') : '',
  ].filter(Boolean);
  if (!parts.length) return [];
  const one = parts.length === 1 && /^1 /.test(parts[0] as string);
  const list =
    parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1) as string}` : (parts[0] as string);
  return [
    {
      code: 'CONTENT_NOT_READ',
      message: `The ${where} holds ${list} that ${one ? 'was' : 'were'} not read: any text ${one ? 'it holds' : 'they hold'} is not in the result.`,
    },
  ];
};
