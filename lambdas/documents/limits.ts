import { AppError } from '../errors.js';

/**
 * Resource limits applied while turning bytes into documents. The worker reads
 * them from its configuration; the defaults suit a 2–3 GB Lambda.
 */
export interface ProcessingLimits {
  /** Largest input accepted, in bytes. */
  maxInputBytes: number;
  /** PDFs with more pages are refused with DOCUMENT_TOO_LARGE. */
  maxPages: number;
  /**
   * Most bytes of memory the PDF engine (PDFium's WebAssembly heap) may use
   * for one document, in each thread that reads it: a stream that
   * decompresses past it (a bomb), or a page too large to read, fails the
   * document with DOCUMENT_TOO_LARGE.
   */
  maxPdfMemoryBytes: number;
  /** Sum of the uncompressed sizes of a zip-based document's parts (zip-bomb guard). */
  maxZipUncompressedBytes: number;
  /** Most parts a zip-based document may have. */
  maxZipEntries: number;
  /** Most non-empty cells a workbook (XLSX) may have, all sheets together; also caps its sheets' trimmed rows × columns. */
  maxSpreadsheetCells: number;
  /** Largest HTML or text input, in bytes (decoded text is about as large). */
  maxTextBytes: number;
  /** Deepest HTML element nesting accepted (browsers stop nesting at 512). */
  maxHtmlDepth: number;
  /** Most HTML tags, opening and closing, accepted. */
  maxHtmlTags: number;
  /** Largest number of documents a result may hold (chunks included). */
  maxDocuments: number;
  /** Largest result, as JSON bytes (chunk overlap can make it many times the input). */
  maxResultBytes: number;
  /**
   * Most characters of text one document's loader may build (XLSX, ODT,
   * PPTX, and an e-mail with its attachments together), counted as the text
   * is placed; unset, `maxResultBytes` (every character is at least one byte
   * of the JSON result, so a longer text could never be returned). Guards
   * against a few KB repeated into hundreds of MB before any other cap fires.
   */
  maxOutputCharacters?: number | undefined;
  /** Resolution pages are rendered at for OCR. */
  ocrDpi: number;
  /** Resolution of the reading ladder's top rung (a poor page read again, binarised). */
  ocrHighDpi: number;
  /** Most pixels one rendered page may have: a larger page is rendered at a lower resolution. */
  maxOcrPixels: number;
  /** Most pixels an image input (or a page of a TIFF) may declare: a larger one is refused before it is decoded. */
  maxImagePixels: number;
  /** Worker threads used for large PDFs; 1 disables them. */
  pdfThreads: number;
  /** PDFs with fewer pages than this are read on the calling thread. */
  pdfParallelMinPages: number;
  /** Old-generation heap of each PDF thread, in MB. */
  pdfThreadHeapMb: number;
}

export const DEFAULT_LIMITS: ProcessingLimits = {
  maxInputBytes: 500 * 1024 * 1024,
  maxPages: 5000,
  maxPdfMemoryBytes: 384 * 1024 * 1024,
  maxZipUncompressedBytes: 256 * 1024 * 1024,
  maxZipEntries: 10_000,
  maxSpreadsheetCells: 2_000_000,
  maxTextBytes: 100 * 1024 * 1024,
  maxHtmlDepth: 1024,
  maxHtmlTags: 2_000_000,
  maxDocuments: 200_000,
  maxResultBytes: 128 * 1024 * 1024,
  ocrDpi: 200,
  ocrHighDpi: 300,
  maxOcrPixels: 24_000_000,
  maxImagePixels: 40_000_000,
  pdfThreads: 0, // 0: one per available core
  pdfParallelMinPages: 48,
  pdfThreadHeapMb: 256,
};

/** The characters of text a loader may build: `maxOutputCharacters`, else `maxResultBytes`. */
export const outputCharacterLimit = (limits: ProcessingLimits): number =>
  limits.maxOutputCharacters ?? limits.maxResultBytes;

/**
 * Counts the characters a loader builds against `outputCharacterLimit`, as
 * they are placed: the text that crosses it fails with DOCUMENT_TOO_LARGE
 * before it is joined into the output.
 */
export class OutputBudget {
  private used = 0;
  readonly limit: number;

  constructor(
    limits: ProcessingLimits,
    private readonly kind: string,
  ) {
    this.limit = outputCharacterLimit(limits);
  }

  /** Takes `characters` (times `copies`, for repeated content) from the budget. */
  take(characters: number, copies = 1): void {
    this.used += characters * copies;
    if (this.used > this.limit) {
      throw new AppError(
        'DOCUMENT_TOO_LARGE',
        `The ${this.kind} makes more than ${this.limit} characters of text (maxOutputCharacters); its content repeats or is too large to return.`,
      );
    }
  }
}
