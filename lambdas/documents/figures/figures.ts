import { createHash } from 'node:crypto';
import { imageHeaderOf } from '../ocr/image-header.js';

/**
 * Figures (option `figures`, docs/results.md "Figures"): the pictures a
 * document holds, kept, placed and captioned. `off` (the default) leaves the
 * result as it always was; `refs` extracts each picture, stores it beside
 * the result and places a reference where it stands; `ocr` also recognises
 * the text inside each one; `describe` asks a vision model for a description
 * (refused where the deployment configures none).
 */
export const FIGURE_MODES = ['off', 'refs', 'ocr', 'describe'] as const;
export type FigureMode = (typeof FIGURE_MODES)[number];

/** The formats a figure is stored in: what a browser and every vision model take, byte for byte as the source stored it. */
export const FIGURE_MEDIA_TYPES = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' } as const;
export type FigureMediaType = (typeof FIGURE_MEDIA_TYPES)[keyof typeof FIGURE_MEDIA_TYPES];

/** How a caption was found, so that a client can weigh it. */
export type CaptionSource = 'label' | 'figcaption' | 'alt_text' | 'title';

/** A figure's box on its page, in points from the page's top left as shown (as `metadata.boxes`). */
export interface FigureBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** One figure of a result (`result.figures`). */
export interface Figure {
  /** `fig-` and the first 16 hex digits of the picture's SHA-256: the same picture has one id wherever it stands. */
  id: string;
  /** Page (PDF), slide (PPTX) or sheet (XLSX, 1-based) where it first stands. */
  page?: number;
  /** Every page it stands on, when more than one (a logo): it is stored and listed once. */
  pages?: number[];
  /** A named part it stands in: a sheet, a chapter, an attachment. */
  section?: string;
  /** Where it stands on its page, for formats that have page coordinates (PDF in points; PPTX in points of the slide). */
  bbox?: FigureBox;
  /** Pixels; absent for a remote picture that does not declare them. */
  width?: number;
  height?: number;
  /** Of the stored bytes (absent for a remote picture: nothing is stored). */
  media_type?: FigureMediaType;
  /** Stored bytes. */
  bytes?: number;
  sha256?: string;
  /** A picture the document only links to (an HTML `src` on the web): listed where it stands, never fetched, not stored. */
  url?: string;
  caption?: string;
  caption_source?: CaptionSource;
  /** The text recognised inside it (`figures=ocr`). */
  text?: string;
  /** A vision model's short description of it (`figures=describe`). */
  description?: string;
}

/** A figure's stored bytes, handed from the reader to the worker that stores them. */
export interface FigureImage {
  id: string;
  media_type: FigureMediaType;
  bytes: Uint8Array;
}

export interface FigureLimits {
  /** Most figures stored per document; more are counted, not stored. */
  maxFigures: number;
  /** Largest stored figure, in bytes. */
  maxFigureBytes: number;
  /** Most bytes of figures per document. */
  maxFigureTotalBytes: number;
  /** Most pixels a picture may declare: a larger one is refused on its header, never decoded. */
  maxFigurePixels: number;
  /** Pictures smaller than this on their shorter side (icons, bullets, rules) are counted, not stored. */
  minFigureSide: number;
  /** The same, in points, for a picture drawn on a page (PDF): a large image shown as an icon is an icon. */
  minFigurePoints: number;
}

export const DEFAULT_FIGURE_LIMITS: FigureLimits = {
  maxFigures: 500,
  maxFigureBytes: 10 * 1024 * 1024,
  maxFigureTotalBytes: 50 * 1024 * 1024,
  maxFigurePixels: 40_000_000,
  minFigureSide: 24,
  minFigurePoints: 12,
};

/** A picture a reader found, before it is checked and stored. */
export interface FigureCandidate {
  /** The picture as stored in the document, or a function that makes it (a PDF bitmap encoded as PNG) once it is kept. */
  bytes: Uint8Array | (() => Uint8Array | undefined);
  /** Its declared size in pixels, when the reader knows it without the bytes (PDF image objects). */
  width?: number;
  height?: number;
  page?: number;
  section?: string;
  bbox?: FigureBox;
  caption?: string;
  captionSource?: CaptionSource;
  /** Where the reader found it (a zip part's path): the same place again is the same figure, not read twice. */
  key?: string;
}

/** Why pictures were not stored, by count: nothing a document holds is dropped in silence. */
export interface FiguresLeftOut {
  /** Below `minFigureSide`: icons, bullets, rules. */
  small: number;
  /** In a format no figure is stored in (EMF, WMF, SVG, GIF, BMP, TIFF). */
  unsupported: number;
  /** Declaring more than `maxFigurePixels`, or larger than `maxFigureBytes`. */
  tooLarge: number;
  /** Past `maxFigures` or `maxFigureTotalBytes`. */
  overLimit: number;
}

const MAX_CAPTION_CHARACTERS = 500;

export const captionText = (text: string): string => {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_CAPTION_CHARACTERS ? `${oneLine.slice(0, MAX_CAPTION_CHARACTERS - 1)}…` : oneLine;
};

/** A figure id from its bytes' digest. */
export const figureIdOf = (sha256: string): string => `fig-${sha256.slice(0, 16)}`;

/** Figure ids as the API takes them. */
export const FIGURE_ID_PATTERN = /^fig-[0-9a-f]{16}$/;

/**
 * The figures of one read of a document, in the order they stand: checked
 * against the limits, the same picture kept once (with every page it stands
 * on), and counted when left out.
 */
export class FigureCollector {
  private readonly byId = new Map<string, Figure>();
  private readonly images = new Map<string, FigureImage>();
  private totalBytes = 0;
  /** Every figure placed, in order, repeats included: what `placedSince` reads. */
  private readonly placements: string[] = [];
  /** Candidates by their reader's key: a part used again is the figure it made (or was refused) the first time. */
  private readonly byKey = new Map<string, Figure | undefined>();
  /** The same buffer again (a zip part a reader hands over each time it is used): known without hashing it again. */
  private readonly byBuffer = new WeakMap<Uint8Array, Figure>();
  readonly leftOut: FiguresLeftOut = { small: 0, unsupported: 0, tooLarge: 0, overLimit: 0 };

  constructor(readonly limits: FigureLimits = DEFAULT_FIGURE_LIMITS) {}

  /** The figure the candidate is (a new one, or the same picture seen before), or undefined when it is left out (and counted). */
  add(candidate: FigureCandidate): Figure | undefined {
    if (candidate.key === undefined) return this.read(candidate);
    if (this.byKey.has(candidate.key)) {
      const known = this.byKey.get(candidate.key);
      return known ? this.again(known, candidate) : undefined;
    }
    const figure = this.read(candidate);
    this.byKey.set(candidate.key, figure);
    return figure;
  }

  /** A figure met again: placed once more, with the page it now stands on (and a caption, if it had none). */
  private again(seen: Figure, candidate: Omit<FigureCandidate, 'bytes'>): Figure {
    this.placements.push(seen.id);
    if (candidate.page !== undefined && seen.page !== undefined) {
      const pages = seen.pages ?? [seen.page];
      if (!pages.includes(candidate.page)) seen.pages = [...pages, candidate.page];
    }
    if (!seen.caption && candidate.caption) this.caption(seen, candidate);
    return seen;
  }

  /** Whether no more figures can be kept: a reader may then count pictures without reading them. */
  get full(): boolean {
    return this.byId.size >= this.limits.maxFigures || this.totalBytes >= this.limits.maxFigureTotalBytes;
  }

  private read(candidate: FigureCandidate): Figure | undefined {
    const { limits } = this;
    if (candidate.width !== undefined && candidate.height !== undefined) {
      const problem = this.sizeProblem(candidate.width, candidate.height);
      if (problem) return this.count(problem);
    }
    const bytes = typeof candidate.bytes === 'function' ? candidate.bytes() : candidate.bytes;
    if (!bytes) return this.count('unsupported');
    const known = this.byBuffer.get(bytes);
    if (known) return this.again(known, candidate);
    const header = imageHeaderOf(bytes);
    if (!header || header.format === 'tiff') return this.count('unsupported');
    const problem = this.sizeProblem(header.width, header.height);
    if (problem) return this.count(problem);
    if (bytes.length > limits.maxFigureBytes) return this.count('tooLarge');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const id = figureIdOf(sha256);
    const seen = this.byId.get(id);
    if (seen) return this.again(seen, candidate);
    if (this.byId.size >= limits.maxFigures || this.totalBytes + bytes.length > limits.maxFigureTotalBytes) {
      return this.count('overLimit');
    }
    this.totalBytes += bytes.length;
    const media_type = FIGURE_MEDIA_TYPES[header.format];
    const figure: Figure = {
      id,
      ...(candidate.page !== undefined ? { page: candidate.page } : {}),
      ...(candidate.section !== undefined ? { section: candidate.section } : {}),
      ...(candidate.bbox ? { bbox: roundedBox(candidate.bbox) } : {}),
      width: header.width,
      height: header.height,
      media_type,
      bytes: bytes.length,
      sha256,
    };
    this.caption(figure, candidate);
    this.byId.set(id, figure);
    this.images.set(id, { id, media_type, bytes });
    this.byBuffer.set(bytes, figure);
    this.placements.push(id);
    return figure;
  }

  /**
   * A picture the document links to but does not hold (a remote `src`):
   * listed and placed, never fetched. Its id is the digest of its address.
   */
  addReference(
    reference: { url: string; width?: number | undefined; height?: number | undefined } & Omit<
      FigureCandidate,
      'bytes'
    >,
  ): Figure | undefined {
    const { width, height } = reference;
    if (width !== undefined && height !== undefined) {
      const problem = this.sizeProblem(width, height);
      if (problem === 'small') return this.count(problem);
    }
    const id = figureIdOf(createHash('sha256').update(reference.url).digest('hex'));
    const seen = this.byId.get(id);
    if (seen) {
      this.placements.push(id);
      return seen;
    }
    if (this.byId.size >= this.limits.maxFigures) return this.count('overLimit');
    const figure: Figure = {
      id,
      ...(reference.page !== undefined ? { page: reference.page } : {}),
      ...(reference.section !== undefined ? { section: reference.section } : {}),
      ...(width !== undefined ? { width } : {}),
      ...(height !== undefined ? { height } : {}),
      url: reference.url,
    };
    this.caption(figure, reference);
    this.byId.set(id, figure);
    this.placements.push(id);
    return figure;
  }

  /** Counts a picture past a reader's own bound (the PDF's decodes per range of pages). */
  countOverLimit(): void {
    this.leftOut.overLimit++;
  }

  /** Counts a picture too large to decode where it is read (a PDF's engine memory), whatever the limits allow. */
  countTooLarge(): void {
    this.leftOut.tooLarge++;
  }

  /** Counts a picture drawn too small on its page to be a figure (an icon, a bullet), whatever its pixels. */
  countSmall(): void {
    this.leftOut.small++;
  }

  /** Counts a picture a reader saw but could not hand over (an EMF, a damaged part). */
  countUnsupported(count = 1): void {
    this.leftOut.unsupported += count;
  }

  /** A mark for `placedSince`. */
  mark(): number {
    return this.placements.length;
  }

  /** The figures placed since `mark`, once each: those of the document a reader just made. */
  placedSince(mark: number): string[] {
    return [...new Set(this.placements.slice(mark))];
  }

  figures(): Figure[] {
    return [...this.byId.values()];
  }

  stored(): FigureImage[] {
    return [...this.images.values()];
  }

  private caption(figure: Figure, candidate: Pick<FigureCandidate, 'caption' | 'captionSource'>) {
    const caption = candidate.caption ? captionText(candidate.caption) : '';
    if (!caption) return;
    figure.caption = caption;
    if (candidate.captionSource) figure.caption_source = candidate.captionSource;
  }

  private sizeProblem(width: number, height: number): keyof FiguresLeftOut | undefined {
    if (width * height > this.limits.maxFigurePixels) return 'tooLarge';
    if (Math.min(width, height) < this.limits.minFigureSide) return 'small';
    return undefined;
  }

  private count(reason: keyof FiguresLeftOut): undefined {
    this.leftOut[reason]++;
    return undefined;
  }
}

const roundedBox = (box: FigureBox): FigureBox => ({
  x0: round(box.x0),
  y0: round(box.y0),
  x1: round(box.x1),
  y1: round(box.y1),
});

const round = (value: number) => Math.round(value * 100) / 100;

/** Every part's figures as one list: a picture read in two parts (fan-out) is listed once, with both parts' pages. */
export const mergeFigures = (lists: ReadonlyArray<readonly Figure[]>): Figure[] => {
  const byId = new Map<string, Figure>();
  for (const figure of lists.flat()) {
    const seen = byId.get(figure.id);
    if (!seen) {
      byId.set(figure.id, { ...figure });
      continue;
    }
    const pages = [
      ...new Set([
        ...(seen.pages ?? (seen.page === undefined ? [] : [seen.page])),
        ...(figure.pages ?? (figure.page === undefined ? [] : [figure.page])),
      ]),
    ];
    if (pages.length > 1) seen.pages = pages.sort((a, b) => a - b);
    if (!seen.caption && figure.caption) {
      seen.caption = figure.caption;
      if (figure.caption_source) seen.caption_source = figure.caption_source;
    }
  }
  return [...byId.values()];
};

/** The figures within the count and bytes the limits allow, in order, and how many were past them. */
export const boundedFigures = (
  figures: readonly Figure[],
  limits: FigureLimits,
): { kept: Figure[]; dropped: number } => {
  const kept: Figure[] = [];
  let bytes = 0;
  for (const figure of figures) {
    if (kept.length >= limits.maxFigures || bytes + (figure.bytes ?? 0) > limits.maxFigureTotalBytes) continue;
    bytes += figure.bytes ?? 0;
    kept.push(figure);
  }
  return { kept, dropped: figures.length - kept.length };
};

export const noLeftOut = (): FiguresLeftOut => ({ small: 0, unsupported: 0, tooLarge: 0, overLimit: 0 });

export const addLeftOut = (sum: FiguresLeftOut, more: FiguresLeftOut): FiguresLeftOut => ({
  small: sum.small + more.small,
  unsupported: sum.unsupported + more.unsupported,
  tooLarge: sum.tooLarge + more.tooLarge,
  overLimit: sum.overLimit + more.overLimit,
});

const plural = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

/** One FIGURES_LEFT_OUT warning with the counts by reason, or none. */
export const figureWarnings = (
  leftOut: FiguresLeftOut,
  limits: FigureLimits = DEFAULT_FIGURE_LIMITS,
): Array<{ code: 'FIGURES_LEFT_OUT'; message: string }> => {
  const parts = [
    leftOut.small
      ? `${plural(leftOut.small, 'picture', 'pictures')} smaller than ${limits.minFigureSide} pixels or ${limits.minFigurePoints} points (icons, bullets, rules)`
      : '',
    leftOut.unsupported
      ? `${plural(leftOut.unsupported, 'picture', 'pictures')} in a format figures are not stored in (figures are PNG, JPEG or WebP)`
      : '',
    leftOut.tooLarge
      ? `${plural(leftOut.tooLarge, 'picture', 'pictures')} over ${Math.round(limits.maxFigurePixels / 1_000_000)} megapixels or ${Math.round(limits.maxFigureBytes / 1024 / 1024)} MB (16 megapixels for a PDF image that is not a JPEG)`
      : '',
    leftOut.overLimit
      ? `${plural(leftOut.overLimit, 'picture', 'pictures')} past ${limits.maxFigures} figures or ${Math.round(limits.maxFigureTotalBytes / 1024 / 1024)} MB of figures`
      : '',
  ].filter(Boolean);
  if (!parts.length) return [];
  return [{ code: 'FIGURES_LEFT_OUT', message: `Not stored as figures: ${parts.join('; ')}.` }];
};
