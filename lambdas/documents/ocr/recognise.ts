import { AppError } from '../../errors.js';
import type { ResultWarning } from '../document.js';
import type { PdfLine } from '../loaders/pdf-structure.js';
import { DEFAULT_OCR_LANGUAGES, type OcrLanguage, type OcrMode } from './languages.js';
import { OcrEngine, type OcrImage, type OcrPage } from './tesseract.js';

/** What a loader is asked to do about OCR (the task's `ocr` and `ocr_languages`). */
export interface OcrRequest {
  mode: OcrMode;
  languages: readonly OcrLanguage[];
}

export const DEFAULT_OCR: OcrRequest = { mode: 'auto', languages: DEFAULT_OCR_LANGUAGES };

/** Below this mean confidence (0–1), a recognised page is reported in a warning. */
export const LOW_CONFIDENCE = 0.6;

/** What a page's text layer held, as the engine counted it. */
export interface TextLayer {
  /** Characters drawn, spaces excluded. */
  chars: number;
  /** Of those, control, private-use, replacement or unmapped characters. */
  unusable: number;
  /** Objects on the page other than text (images, paths): something a scan or an outline font would draw. */
  drawn: number;
  /** Of those, images: pictures whose text only OCR reads. */
  images?: number;
}

/** Fewer usable characters than this is no text layer: a scan's stray stamp or page number. */
const MIN_USABLE_CHARS = 16;

/**
 * Whether a page is recognised: `force` every page, `off` none, `auto` a
 * page whose text layer is missing or unusable (mostly control or
 * private-use characters) and that draws something; an empty page is not
 * rendered for nothing.
 */
export const needsOcr = (mode: OcrMode, layer: TextLayer): boolean => {
  if (mode === 'off') return false;
  if (mode === 'force') return true;
  const usable = layer.chars - layer.unusable;
  const unusableLayer = usable < MIN_USABLE_CHARS || layer.unusable * 2 > layer.chars;
  return unusableLayer && layer.drawn > 0;
};

export const recognise = async (languages: readonly OcrLanguage[], image: OcrImage): Promise<OcrPage> => {
  const engine = await OcrEngine.for(languages);
  try {
    return engine.recognize(image);
  } catch (error) {
    // An abort inside the engine (a picture its decoder chokes on) leaves its module unusable: the next read makes a new one.
    if (!(error instanceof AppError)) OcrEngine.discard();
    throw error;
  }
};

/**
 * The recognised page as lines for the Markdown renderer, in points: words
 * grouped by tesseract's block, paragraph and line, the line's size from its
 * words' height (a glyph box is about a font size tall).
 */
export const linesOfOcr = (page: OcrPage, pointsPerPixel: number, heightPt: number): PdfLine[] => {
  const lines = new Map<string, OcrPage['words']>();
  for (const word of page.words) {
    const key = `${word.block}.${word.paragraph}.${word.line}`;
    const line = lines.get(key);
    if (line) line.push(word);
    else lines.set(key, [word]);
  }
  return [...lines.values()].map((words) => {
    const heights = words.map((word) => word.height).sort((a, b) => a - b);
    const height = heights[Math.floor(heights.length / 2)] ?? 0;
    const bottom = Math.max(...words.map((word) => word.top + word.height));
    return {
      text: words.map((word) => word.text).join(' '),
      x: Math.round(Math.min(...words.map((word) => word.left)) * pointsPerPixel * 10) / 10,
      y: Math.round((heightPt - bottom * pointsPerPixel) * 10) / 10,
      size: Math.max(1, Math.round(height * pointsPerPixel * 2) / 2),
    };
  });
};

/** A recognised line: its text, and its box `[x0, y0, x1, y1]` in the input image's pixels (top left first). */
export interface OcrLine {
  text: string;
  box: [number, number, number, number];
  /** The line starts a paragraph. */
  opens: boolean;
}

/**
 * A point of the upright frame tesseract reads in (the image turned by
 * `rotation` degrees) back in the input image: boxes must say where the
 * text is on the page as given, not as it was turned to be read.
 */
const inputPoint = (
  rotation: number,
  upright: { width: number; height: number },
  u: number,
  v: number,
): [number, number] => {
  switch (rotation) {
    case 90:
      return [v, upright.width - u];
    case 180:
      return [upright.width - u, upright.height - v];
    case 270:
      return [upright.height - v, u];
    default:
      return [u, v];
  }
};

/** The page's lines (tesseract's block, paragraph and line), in reading order, boxed in the input image. */
export const ocrLinesOf = (page: OcrPage, image: { width: number; height: number }): OcrLine[] => {
  const turned = page.rotation === 90 || page.rotation === 270;
  const upright = turned ? { width: image.height, height: image.width } : image;
  const lines = new Map<string, OcrPage['words']>();
  for (const word of page.words) {
    const key = `${word.block}.${word.paragraph}.${word.line}`;
    const line = lines.get(key);
    if (line) line.push(word);
    else lines.set(key, [word]);
  }
  let paragraph = '';
  return [...lines.values()].map((words) => {
    const first = words[0] as OcrPage['words'][number];
    const key = `${first.block}.${first.paragraph}`;
    const opens = key !== paragraph;
    paragraph = key;
    const xs: number[] = [];
    const ys: number[] = [];
    for (const word of words) {
      for (const [u, v] of [
        [word.left, word.top],
        [word.left + word.width, word.top + word.height],
      ] as const) {
        const [x, y] = inputPoint(page.rotation, upright, u, v);
        xs.push(x);
        ys.push(y);
      }
    }
    return {
      text: words.map((word) => word.text).join(' '),
      box: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
      opens,
    };
  });
};

/** The lines as text: a line per line, a blank line between paragraphs (as tesseract writes its text). */
export const textOfOcrLines = (lines: readonly OcrLine[]): string =>
  lines.map((line, index) => (index > 0 && line.opens ? `\n${line.text}` : line.text)).join('\n');

/** One warning naming the recognised pages read with a low confidence. */
export const lowConfidenceWarning = (pages: ReadonlyArray<{ page: number; confidence: number }>): ResultWarning[] => {
  const low = pages.filter(({ confidence }) => confidence < LOW_CONFIDENCE);
  if (!low.length) return [];
  const list = low.map(({ page, confidence }) => `${page} (${Math.round(confidence * 100)} %)`).join(', ');
  return [
    {
      code: 'OCR_LOW_CONFIDENCE',
      message: `OCR read ${low.length === 1 ? 'page' : 'pages'} ${list} with low confidence: the text may be wrong (a poor scan, or another language than ocr_languages).`,
    },
  ];
};
