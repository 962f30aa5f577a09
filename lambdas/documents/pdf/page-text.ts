import { type Affine } from './matrix.js';
import {
  groupPictures,
  imageObjectsOf,
  readPictures,
  type PdfPicture,
  type PictureBounds,
  type PictureBudget,
} from './pictures.js';
import type { TextRun } from '../loaders/pdf-structure.js';
import type { PdfiumDocument } from './pdfium.js';
import { readRules, type Rule } from './rules.js';

/**
 * A page's text layer as PDFium gives it: one character at a time, in the
 * content stream's order (the reading order of most PDFs), with the spaces
 * and line ends PDFium inserts where the layout has them (`IsGenerated`).
 * From the characters come the page's plain text (text output) and runs of
 * text with a position, size and weight (what the Markdown and the layout
 * read), and counts that say whether the layer can be used at all.
 */

/** What a page's text layer holds, for deciding whether it needs OCR. */
export interface TextLayerStats {
  /** Characters drawn (not generated), spaces excluded. */
  chars: number;
  /** Of those, characters no reader can use: control, private-use, replacement, or without a Unicode mapping. */
  unusable: number;
}

export { shownBox, type Affine } from './matrix.js';

/** Device units per point when asking PDFium for the transform: enough for a tenth of a point. */
const DEVICE_SCALE = 100;

/** The page's transform from text-layer to shown coordinates, from where PDFium puts three points. */
const toShownOf = (
  api: PdfiumDocument['engine']['api'],
  page: number,
  width: number,
  height: number,
  scratch: number,
): Affine => {
  const at = (x: number, y: number): [number, number] => {
    api.FPDF_PageToDevice(
      page,
      0,
      0,
      Math.round(width * DEVICE_SCALE),
      Math.round(height * DEVICE_SCALE),
      0,
      x,
      y,
      scratch,
      scratch + 4,
    );
    const ints = new Int32Array(api.memory.buffer, scratch, 2);
    return [(ints[0] ?? 0) / DEVICE_SCALE, (ints[1] ?? 0) / DEVICE_SCALE];
  };
  const [ox, oy] = at(0, 0);
  const [xx, xy] = at(1000, 0);
  const [yx, yy] = at(0, 1000);
  return [(xx - ox) / 1000, (xy - oy) / 1000, (yx - ox) / 1000, (yy - oy) / 1000, ox, oy];
};

export interface PageText {
  text: string;
  /**
   * Per line of `text` (split at `\n`, `\r\n` and `\r`), the height of its
   * first drawn character's middle above the page's bottom, in points (NaN
   * for a line with none): where a line stands, for finding page furniture.
   */
  lineYs: number[];
  /** Per line, its first drawn character's font size in points (0 for a line with none). */
  lineSizes: number[];
  /**
   * Per line, with `boxes` asked for, the box of its drawn characters in the
   * text layer's coordinates `[left, bottom, right, top]` (empty for a line
   * with none); runs carry theirs whenever they are read.
   */
  lineBoxes: number[][];
  /** The page's text-layer coordinates to its shown ones (points, top left, y down, rotation applied). */
  toShown: Affine;
  runs: TextRun[];
  stats: TextLayerStats;
  /** The page's size in points, as shown (after its /Rotate). */
  width: number;
  height: number;
  /** The page's height in the coordinates of `lineYs` (before its /Rotate). */
  textHeight: number;
  /** Objects on the page other than text (images, paths, forms): what a scan or text drawn as outlines leaves. */
  drawn: number;
  /** Of those, images (pictures: their text is read only when the page is recognised). */
  images: number;
  /** With figures asked for: the images' places and bytes (pictures.ts). */
  pictures?: PdfPicture[];
  /** The page's ruling lines (with runs only): where its tables are. */
  rules: Rule[];
}

/** Weight from which a font is bold; and the font descriptor's ForceBold flag. */
const BOLD_WEIGHT = 600;
const FORCE_BOLD_FLAG = 1 << 18;
/**
 * Names of bold faces: "Bold", "Black", "Heavy", "Demi"; the "Bd" of
 * HelveticaNeue-Bd and MyriadBdIt; TeX's bold extended faces (CMBX10, SFBX1000).
 */
const BOLD_NAME = /bold|black|heavy|demi|bd(?:it|cn)?(?:[-_,]|$)|[-_]bd|(?:cm|sf|lm|ec)bx\d/i;

const ITALIC_FLAG = 1 << 6;
const FIXED_PITCH_FLAG = 1 << 0;
/** "Italic", "Oblique", the "It" of MyriadRgIt, TeX's italic faces (CMTI10). */
const ITALIC_NAME = /italic|oblique|(?:cm|sf|lm|ec)ti\d/i;
const ITALIC_SUFFIX = /[a-z]It(?:[-_,]|$)/;
/** Monospaced faces by name (not Monotype's foundry, nor the "code" of ArialUnicode). */
const MONO_NAME = /mono(?!type)|courier|consol|menlo|inconsolata|(?:cm|sf|lm|ec)tt\d|(?<!uni)code/i;

/** A font's face as the structure reads it. */
interface Face {
  bold: boolean;
  italic: boolean;
  mono: boolean;
}

const FPDF_PAGEOBJ_TEXT = 1;
const FPDF_PAGEOBJ_IMAGE = 3;

/** A code point no reader can use: C0/C1 controls (but tab and line ends), private use, the replacement character. */
export const isUnusable = (code: number): boolean =>
  (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) ||
  (code >= 0x7f && code < 0xa0) ||
  (code >= 0xe000 && code <= 0xf8ff) ||
  code >= 0xf0000 ||
  code === 0xfffd ||
  code === 0xfffe ||
  code === 0xffff;

const isSpace = (code: number): boolean =>
  code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d || code === 0xa0;

/**
 * Typed views over the engine's memory for the per-character scratch,
 * made anew only when the memory has grown (its buffer is then replaced):
 * not one pair of views per character.
 */
const viewsOf = (memory: WebAssembly.Memory, matrixAt: number) => {
  let buffer: ArrayBuffer | undefined;
  let doubles = new Float64Array(0);
  let matrix = new Float32Array(0);
  const refresh = () => {
    if (buffer === memory.buffer) return;
    buffer = memory.buffer;
    doubles = new Float64Array(buffer);
    matrix = new Float32Array(buffer, matrixAt, 6);
  };
  return {
    doubles: () => (refresh(), doubles),
    matrix: () => (refresh(), matrix),
  };
};

/** PDFium's mark for a hyphen that breaks a word at a line end. */
const LINE_END_HYPHEN = 0x02;

/** A character as the text gives it: the line-end hyphen as drawn, other C0 controls and invalid codes dropped. */
/**
 * Symbol-font bullets, which symbol and dingbat fonts (Symbol, Wingdings)
 * draw at private-use code points when their PDF maps no Unicode: U+F0B7 is
 * Symbol's bullet, U+F0A7 Wingdings' square bullet.
 */
const SYMBOL_BULLETS: ReadonlyMap<number, string> = new Map([
  [0xf0b7, '•'],
  [0xf0a7, '▪'],
]);

export const charOf = (code: number): string => {
  if (code === LINE_END_HYPHEN) return '-';
  // C0 and C1 controls (but tab and line ends) are no text: a glyph a font maps to one has no reading.
  if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || (code >= 0x7f && code < 0xa0)) return '';
  if (code > 0x10ffff) return '';
  return SYMBOL_BULLETS.get(code) ?? String.fromCodePoint(code);
};

const isLineEnd = (code: number): boolean => code === 0x0a || code === 0x0d;

interface OpenRun {
  text: string;
  /** The run's characters' box (left, bottom, right, top); left is Infinity until a character is drawn. */
  left: number;
  bottom: number;
  right: number;
  top: number;
  angle: number;
  size: number;
  face: Face;
  x: number;
  y: number;
  /** Far end along the run's direction, from its origin. */
  end: number;
  /** Where the next character of the same run would start, roughly (to split runs at jumps). */
  lastX: number;
  lastY: number;
}

const closeRun = (run: OpenRun): TextRun => {
  const cos = Math.cos(run.angle);
  const sin = Math.sin(run.angle);
  return {
    str: run.text,
    transform: [cos * run.size, sin * run.size, -sin * run.size, cos * run.size, run.x, run.y],
    width: Math.max(0, run.end),
    ...(run.face.bold ? { bold: true } : {}),
    ...(run.face.italic ? { italic: true } : {}),
    ...(run.face.mono ? { mono: true } : {}),
    ...(run.left !== Infinity ? { box: [run.left, run.bottom, run.right, run.top] } : {}),
  };
};

/** Reads page `index` (0-based) of an open document. */
/** Alef and its hamza and madda forms, and lam: the two halves of the Arabic lam-alef ligatures. */
const ALEFS = new Set([0x0622, 0x0623, 0x0625, 0x0627]);
const LAM = 0x0644;

/** The page's pictures (pictures.ts): read, then those that touch grouped, placed as the page is shown. */
const picturesOf = (
  engine: PdfiumDocument['engine'],
  page: number,
  width: number,
  height: number,
  { bounds, budget }: { bounds: PictureBounds; budget: PictureBudget },
): PdfPicture[] => {
  const { api } = engine;
  const read = readPictures(engine, imageObjectsOf(engine, page), bounds, budget);
  if (read.length < 2) return read;
  const scratch = api.malloc(32);
  try {
    return groupPictures(engine, page, read, bounds, toShownOf(api, page, width, height, scratch));
  } finally {
    api.free(scratch);
  }
};

export const readPageText = (
  document: PdfiumDocument,
  index: number,
  {
    runs: withRuns,
    boxes: withBoxes = false,
    pictures: pictureReading,
  }: {
    runs: boolean;
    boxes?: boolean;
    /** With figures asked for: the bounds pictures are read within, and what the range's pages share. */
    pictures?: { bounds: PictureBounds; budget: PictureBudget } | undefined;
  },
): PageText =>
  document.withPage(index, (page) => {
    const { engine } = document;
    const { api } = engine;
    const width = api.FPDF_GetPageWidthF(page);
    const height = api.FPDF_GetPageHeightF(page);
    const textHeight = api.FPDFPage_GetRotation(page) % 2 === 1 ? width : height;
    let drawn = 0;
    let images = 0;
    const objects = api.FPDFPage_CountObjects(page);
    for (let object = 0; object < objects; object++) {
      const type = api.FPDFPageObj_GetType(api.FPDFPage_GetObject(page, object));
      if (type !== FPDF_PAGEOBJ_TEXT) drawn++;
      if (type === FPDF_PAGEOBJ_IMAGE) images++;
    }
    const pictures = pictureReading ? { pictures: picturesOf(engine, page, width, height, pictureReading) } : {};
    const textPage = api.FPDFText_LoadPage(page);
    if (!textPage)
      return {
        text: '',
        lineYs: [],
        lineSizes: [],
        lineBoxes: [],
        toShown: [1, 0, 0, -1, 0, height],
        runs: [],
        stats: { chars: 0, unusable: 0 },
        width,
        height,
        textHeight,
        drawn,
        images,
        rules: [],
        ...pictures,
      };
    // Scratch: origin (x, y), box (left, right, bottom, top), and the character's matrix (a, b, c, d, e, f) as floats.
    const scratch = api.malloc(72);
    const scratchView = viewsOf(engine.api.memory, scratch + 48);
    const faces = new Map<number, Face>();
    const style = { object: -1, size: 1, angle: 0, cos: 1, sin: 0, face: { bold: false, italic: false, mono: false } };
    const fontNameOf = (font: number): string => {
      const length = api.FPDFFont_GetBaseFontName(font, 0, 0);
      if (length <= 0 || length >= 512) return '';
      const name = api.malloc(length);
      api.FPDFFont_GetBaseFontName(font, name, length);
      const text = new TextDecoder().decode(engine.bytes().subarray(name, name + length - 1));
      api.free(name);
      return text;
    };
    const faceOf = (textObject: number): Face => {
      const font = api.FPDFTextObj_GetFont(textObject);
      let face = faces.get(font);
      if (!face) {
        const weight = api.FPDFFont_GetWeight(font);
        const flags = api.FPDFFont_GetFlags(font);
        // A weight the font does not state (-1), or the regular one many embedded fonts report whatever they are:
        // the name may know better.
        const name = fontNameOf(font).replace(/^[A-Z]{6}\+/, '');
        face = {
          bold: weight >= BOLD_WEIGHT || (flags & FORCE_BOLD_FLAG) !== 0 || BOLD_NAME.test(name),
          italic: (flags & ITALIC_FLAG) !== 0 || ITALIC_NAME.test(name) || ITALIC_SUFFIX.test(name),
          mono: (flags & FIXED_PITCH_FLAG) !== 0 || MONO_NAME.test(name),
        };
        faces.set(font, face);
      }
      return face;
    };
    // The font size scaled by the text object's matrix: what the reader sees (text drawn at size 1 and scaled is common).
    const scaledFontSize = (charIndex: number): number => {
      api.FPDFText_GetMatrix(textPage, charIndex, scratch + 48);
      const m = scratchView.matrix();
      const scale = Math.hypot(m[2] ?? 0, m[3] ?? 0);
      return api.FPDFText_GetFontSize(textPage, charIndex) * (scale || 1);
    };
    try {
      const count = api.FPDFText_CountChars(textPage);
      const parts: string[] = [];
      const runs: TextRun[] = [];
      const stats: TextLayerStats = { chars: 0, unusable: 0 };
      const lineYs: number[] = [NaN];
      const lineSizes: number[] = [0];
      const lineBoxes: number[][] = [[]];
      const grow = (box: number[], left: number, bottom: number, right: number, top: number) => {
        if (!box.length) box.push(left, bottom, right, top);
        else {
          box[0] = Math.min(box[0] as number, left);
          box[1] = Math.min(box[1] as number, bottom);
          box[2] = Math.max(box[2] as number, right);
          box[3] = Math.max(box[3] as number, top);
        }
      };
      let afterCr = false;
      let run: OpenRun | undefined;
      const flush = () => {
        if (run?.text.trim()) runs.push(closeRun(run));
        run = undefined;
      };
      // The code the next character takes instead of its own: the second half of a lam-alef ligature put back in order.
      let swapped: number | undefined;
      for (let charIndex = 0; charIndex < count; charIndex++) {
        let code = api.FPDFText_GetUnicode(textPage, charIndex);
        if (swapped !== undefined) {
          code = swapped;
          swapped = undefined;
        } else if (ALEFS.has(code) && api.FPDFText_GetUnicode(textPage, charIndex + 1) === LAM) {
          // One glyph mapped to two characters (a ligature) gives both its origin. On a right-to-left line PDFium
          // hands a lam-alef ligature's letters over as drawn, alef then lam: they are read as written, lam first.
          api.FPDFText_GetCharOrigin(textPage, charIndex, scratch, scratch + 8);
          const [x0, y0] = scratchView.doubles().subarray(scratch / 8, scratch / 8 + 2);
          api.FPDFText_GetCharOrigin(textPage, charIndex + 1, scratch, scratch + 8);
          const [x1, y1] = scratchView.doubles().subarray(scratch / 8, scratch / 8 + 2);
          if (Math.abs((x0 ?? 0) - (x1 ?? 0)) < 0.01 && Math.abs((y0 ?? 0) - (y1 ?? 0)) < 0.01) {
            swapped = code;
            code = LAM;
          }
        }
        const char = charOf(code);
        parts.push(char);
        // Lines as the text output splits them: `\r\n` is one break.
        if (code === 0x0d || (code === 0x0a && !afterCr)) {
          lineYs.push(NaN);
          lineSizes.push(0);
          lineBoxes.push([]);
        }
        afterCr = code === 0x0d;
        // A word broken at a line end: PDFium joins the lines there; the text keeps the break, as the page shows it.
        if (code === LINE_END_HYPHEN && !isLineEnd(api.FPDFText_GetUnicode(textPage, charIndex + 1))) {
          parts.push('\n');
          lineYs.push(NaN);
          lineSizes.push(0);
          lineBoxes.push([]);
        }
        const generated = api.FPDFText_IsGenerated(textPage, charIndex);
        const line = lineYs.length - 1;
        if (withBoxes && !withRuns && !generated && !isSpace(code)) {
          api.FPDFText_GetCharBox(textPage, charIndex, scratch + 16, scratch + 24, scratch + 32, scratch + 40);
          const f = scratchView.doubles();
          const at = scratch / 8;
          grow(
            lineBoxes[line] as number[],
            f[at + 2] as number,
            f[at + 4] as number,
            f[at + 3] as number,
            f[at + 5] as number,
          );
        }
        if (!withRuns && !generated && !isSpace(code) && Number.isNaN(lineYs[line])) {
          api.FPDFText_GetCharBox(textPage, charIndex, scratch + 16, scratch + 24, scratch + 32, scratch + 40);
          const f = scratchView.doubles();
          lineYs[line] = ((f[scratch / 8 + 4] as number) + (f[scratch / 8 + 5] as number)) / 2;
          lineSizes[line] = scaledFontSize(charIndex);
        }
        if (generated) {
          flush();
          continue;
        }
        if (!isSpace(code) && code !== LINE_END_HYPHEN) {
          stats.chars++;
          if (isUnusable(code) || api.FPDFText_HasUnicodeMapError(textPage, charIndex) === 1) stats.unusable++;
        }
        if (!withRuns) continue;
        if (code === 0x0a || code === 0x0d) {
          flush();
          continue;
        }
        api.FPDFText_GetCharOrigin(textPage, charIndex, scratch, scratch + 8);
        api.FPDFText_GetCharBox(textPage, charIndex, scratch + 16, scratch + 24, scratch + 32, scratch + 40);
        const f = scratchView.doubles();
        const at = scratch / 8;
        const x = f[at] as number;
        const y = f[at + 1] as number;
        const left = f[at + 2] as number;
        const right = f[at + 3] as number;
        const bottom = f[at + 4] as number;
        const top = f[at + 5] as number;
        const firstOfLine = !isSpace(code) && Number.isNaN(lineYs[lineYs.length - 1]);
        if (firstOfLine) lineYs[lineYs.length - 1] = (bottom + top) / 2;
        // Size, direction and weight belong to the character's text object: read once per object, not per character.
        const textObject = api.FPDFText_GetTextObject(textPage, charIndex);
        if (textObject !== style.object) {
          // PDFium measures the angle clockwise; the run arithmetic here turns counter-clockwise, as the text matrix does.
          const angle = -api.FPDFText_GetCharAngle(textPage, charIndex);
          style.object = textObject;
          style.size = scaledFontSize(charIndex) || Math.max(top - bottom, 1);
          style.angle = angle;
          style.cos = Math.cos(angle);
          style.sin = Math.sin(angle);
          style.face = faceOf(textObject);
        }
        const { size, angle, cos, sin, face } = style;
        if (firstOfLine) lineSizes[lineSizes.length - 1] = size;
        const sameRun =
          run &&
          Math.abs(run.angle - angle) < 0.01 &&
          Math.abs(run.size - size) < 0.05 &&
          run.face === face &&
          // The next character starts near where the last ended, on the same baseline.
          Math.abs(-(x - run.lastX) * sin + (y - run.lastY) * cos) < 0.1 * size &&
          Math.abs((x - run.lastX) * cos + (y - run.lastY) * sin) < 0.5 * size;
        if (!sameRun) {
          flush();
          run = {
            text: '',
            angle,
            size,
            face,
            x,
            y,
            end: 0,
            lastX: x,
            lastY: y,
            left: Infinity,
            bottom: Infinity,
            right: -Infinity,
            top: -Infinity,
          };
        }
        const open = run as OpenRun;
        open.text += char;
        if (!isSpace(code)) {
          if (left < open.left) open.left = left;
          if (bottom < open.bottom) open.bottom = bottom;
          if (right > open.right) open.right = right;
          if (top > open.top) open.top = top;
        }
        // The box's far edge along the text direction (the larger of its corners' projections on it).
        const far =
          Math.max((left - open.x) * cos, (right - open.x) * cos) +
          Math.max((bottom - open.y) * sin, (top - open.y) * sin);
        const spaceAdvance = isSpace(code) ? 0.25 * size : 0;
        open.end = Math.max(open.end, far, (x - open.x) * cos + (y - open.y) * sin + spaceAdvance);
        open.lastX = open.x + open.end * cos;
        open.lastY = open.y + open.end * sin;
      }
      flush();
      const rules = withRuns && drawn > 0 ? readRules(api, page, scratch) : [];
      const toShown = toShownOf(api, page, width, height, scratch);
      return {
        text: parts.join(''),
        lineYs,
        lineSizes,
        lineBoxes,
        toShown,
        runs,
        stats,
        width,
        height,
        textHeight,
        drawn,
        images,
        rules,
        ...pictures,
      };
    } finally {
      api.free(scratch);
      api.FPDFText_ClosePage(textPage);
    }
  });
