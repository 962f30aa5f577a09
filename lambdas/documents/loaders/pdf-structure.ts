/**
 * Markdown from a PDF's text layer. The engine (pdf/page-text.ts) gives runs
 * of text with a position, a font size and a weight; the page threads group them into lines (`linesOfPage`), and
 * the calling thread turns the lines of every page read into Markdown
 * (`renderMarkdown`) once they are all in, because what counts as a heading,
 * a paragraph gap or an indent depends on the whole document's usual font
 * size and line spacing. Pure functions: no engine here.
 */

/** A run of text: characters of one size, weight and direction, side by side. */
export interface TextRun {
  str: string;
  /** Text matrix `[a, b, c, d, x, y]`: (a, b) runs along the text, |(c, d)| is the font size. */
  transform: readonly number[];
  /** Advance along the text direction. */
  width: number;
  /** The box of its characters `[left, bottom, right, top]`, in the text layer's coordinates. */
  box?: readonly number[];
  /** The font's face: bold, italic, monospaced (code). */
  bold?: boolean;
  italic?: boolean;
  mono?: boolean;
}

/** Text of a line set apart from the rest by a gap wider than a word space: a table cell when lines align. */
export interface LineCell {
  x: number;
  /** Where the cell's text ends. */
  end: number;
  text: string;
}

/**
 * A line of a page, in the coordinates of its text direction: `x` grows
 * along the line, `y` (the baseline) grows up the page. This is what a page
 * thread sends back for Markdown output, so it is kept small: numbers
 * rounded, flags and cells only when set.
 */
export interface PdfLine {
  text: string;
  /** Left edge. */
  x: number;
  /** Baseline of the line's main font size. */
  y: number;
  /** The font size most of the line's characters have. */
  size: number;
  /** Most characters are in a bold face. */
  bold?: true;
  /** Most characters are in an italic face. */
  italic?: true;
  /** Most characters are in a monospaced face: code, never a heading. */
  mono?: true;
  /** The line's cells, when it has more than one. */
  cells?: LineCell[];
  /** Runs across the page's main text direction (a margin label): never a heading or a table row. */
  sideways?: true;
  /** Quarter turns (counter-clockwise) of the line's direction on the page, when not upright: its `y` is then no height. */
  turn?: 1 | 2 | 3;
  /** A table found from the page's rules (pdf/tables.ts), standing here in the page's order: a line of no text. */
  table?: string[][];
  /** A table's characters, and `size` their most common size: what the body size is judged by. */
  chars?: number;
  /** Where the line stands, `[x0, y0, x1, y1]` as shown (top left first): with boxes asked for (pdf.ts). */
  box?: number[];
}

/** A table of the page, its rows, and the runs it took (by index), the first of which places it. */
export interface PlacedTable {
  rows: string[][];
  runs: readonly number[];
  /** The index of its first run in the page's order. */
  at: number;
}

/** A baseline this far from the line's (in ems) still belongs to it: superscripts and subscripts. */
const SAME_LINE_EM = 0.6;
/** A gap wider than this (in ems) between runs is a word space. */
const WORD_GAP_EM = 0.15;
/** A gap wider than this (in ems) between runs separates cells: wider than any justified word space. */
const CELL_GAP_EM = 1.5;
/** A right-to-left run this far (in ems) left of the last one still goes on the line (as a cell past CELL_GAP_EM). */
const RTL_GAP_EM = 6;

const round1 = (value: number): number => Math.round(value * 10) / 10;

/** A run placed in the frame of its text direction (quarter turns counter-clockwise). */
interface PlacedRun {
  text: string;
  quarter: number;
  along: number;
  across: number;
  end: number;
  size: number;
  bold: boolean;
  italic: boolean;
  mono: boolean;
  box?: readonly number[] | undefined;
}

const QUARTER_TURN = Math.PI / 2;

const placeRun = (run: TextRun): PlacedRun => {
  const [a = 0, b = 0, c = 0, d = 0, x = 0, y = 0] = run.transform;
  const quarter = (((Math.round(Math.atan2(b, a) / QUARTER_TURN) % 4) + 4) % 4) as 0 | 1 | 2 | 3;
  const [along, across] = [
    [x, y],
    [y, -x],
    [-x, -y],
    [-y, x],
  ][quarter] as [number, number];
  // A degenerate matrix has no size; any positive one keeps the gap arithmetic finite.
  const size = Math.hypot(c, d) || 1;
  return {
    text: run.str,
    quarter,
    along,
    across,
    end: along + run.width,
    size,
    bold: run.bold === true,
    italic: run.italic === true,
    mono: run.mono === true,
    box: run.box,
  };
};

interface OpenLine {
  quarter: number;
  across: number;
  end: number;
  /** Where the last run started: a stacked subscript starts there again. */
  lastStart: number;
  /** Where the last run ended. */
  lastEnd: number;
  cells: LineCell[];
  /** Characters per rounded font size, with the baseline of the first run in that size. */
  sizes: Map<number, { chars: number; baseline: number }>;
  chars: number;
  boldChars: number;
  italicChars: number;
  monoChars: number;
  /** `[left, bottom, right, top]` of its runs, in the text layer's coordinates. */
  box: number[];
}

const openLine = (run: PlacedRun): OpenLine => ({
  quarter: run.quarter,
  across: run.across,
  end: run.end,
  lastStart: run.along,
  lastEnd: run.along,
  cells: [{ x: run.along, end: run.end, text: '' }],
  sizes: new Map(),
  chars: 0,
  boldChars: 0,
  italicChars: 0,
  monoChars: 0,
  box: [],
});

const largestSize = (line: OpenLine): number => Math.max(...line.sizes.keys());

/**
 * A run before which the line's last run starts, ending about there: the
 * next word of a right-to-left script (Arabic, Hebrew), which a PDF draws
 * from right to left in its logical order.
 */
const goesLeft = (line: OpenLine, run: PlacedRun, size: number): boolean =>
  run.along < line.lastStart - SAME_LINE_EM * size &&
  run.end <= line.lastStart + SAME_LINE_EM * size &&
  run.end >= line.lastStart - RTL_GAP_EM * size;

/** Same direction, baseline within a sub/superscript shift, and going on rightwards (or leftwards, right to left). */
const continuesLine = (line: OpenLine, run: PlacedRun): boolean => {
  const size = Math.max(run.size, largestSize(line));
  return (
    run.quarter === line.quarter &&
    Math.abs(run.across - line.across) <= SAME_LINE_EM * size &&
    (run.along >= line.lastStart - SAME_LINE_EM * size || goesLeft(line, run, size))
  );
};

const addRun = (line: OpenLine, run: PlacedRun): void => {
  const leftwards = line.chars > 0 && goesLeft(line, run, Math.max(run.size, largestSize(line)));
  const gap = leftwards ? line.lastStart - run.end : run.along - line.lastEnd;
  let cell = line.cells[line.cells.length - 1] as LineCell;
  if (cell.text && gap > CELL_GAP_EM * run.size) {
    cell = { x: run.along, end: run.end, text: '' };
    line.cells.push(cell);
  } else if (cell.text && gap > WORD_GAP_EM * run.size && !/\s$/.test(cell.text) && !/^\s/.test(run.text)) {
    cell.text += ' ';
  }
  cell.text += run.text;
  cell.x = Math.min(cell.x, run.along);
  cell.end = Math.max(cell.end, run.end);
  line.end = Math.max(line.end, run.end);
  line.lastEnd = run.end;
  line.lastStart = run.along;
  const chars = run.text.length;
  const size = round1(run.size);
  const counted = line.sizes.get(size);
  if (counted) counted.chars += chars;
  else line.sizes.set(size, { chars, baseline: run.across });
  line.chars += chars;
  if (run.bold) line.boldChars += chars;
  if (run.italic) line.italicChars += chars;
  if (run.mono) line.monoChars += chars;
  const box = run.box;
  if (box?.length === 4) {
    const [left, bottom, right, top] = box as [number, number, number, number];
    if (!line.box.length) line.box.push(left, bottom, right, top);
    else {
      line.box[0] = Math.min(line.box[0] as number, left);
      line.box[1] = Math.min(line.box[1] as number, bottom);
      line.box[2] = Math.max(line.box[2] as number, right);
      line.box[3] = Math.max(line.box[3] as number, top);
    }
  }
};

const closeLine = (line: OpenLine): PdfLine => {
  let main = { size: 0, chars: -1, baseline: line.across };
  for (const [size, { chars, baseline }] of line.sizes) if (chars > main.chars) main = { size, chars, baseline };
  const cells = line.cells.map((cell) => ({
    x: round1(cell.x),
    end: round1(cell.end),
    text: cell.text.replace(/\s+/g, ' ').trim(),
  }));
  const closed: PdfLine = {
    text: cells.map((cell) => cell.text).join(' '),
    x: cells[0]?.x ?? 0,
    y: round1(main.baseline),
    size: main.size,
  };
  if (line.boldChars * 2 > line.chars) closed.bold = true;
  if (line.italicChars * 2 > line.chars) closed.italic = true;
  if (line.monoChars * 2 > line.chars) closed.mono = true;
  if (line.quarter) closed.turn = line.quarter as 1 | 2 | 3;
  if (line.box.length === 4) closed.box = line.box;
  if (cells.length > 1) closed.cells = cells;
  return closed;
};

/**
 * Groups a page's runs into lines, in the order the engine gives them (the
 * content stream's, which is the reading order of most PDFs). Positions
 * decide where a line ends and where words part, not the engine's inserted
 * line ends (which also mark the return from a superscript) nor runs of only
 * spaces (some have no width: "[" " " "11" would read "[ 11").
 */
export const linesOfPage = (runs: readonly TextRun[], tables: readonly PlacedTable[] = []): PdfLine[] => {
  const open: Array<OpenLine | PdfLine> = [];
  const tableAtRun = new Map(tables.map((table) => [table.at, table]));
  const skipped = new Set(tables.flatMap((table) => table.runs));
  for (const [index, run] of runs.entries()) {
    const table = tableAtRun.get(index);
    // A table found from the page's rules stands where its first run does in the stream.
    if (table) {
      const boxes = table.runs.flatMap((at) => (runs[at]?.box?.length === 4 ? [runs[at]?.box] : []));
      const box = boxes.length
        ? [0, 1, 2, 3].map((side) => (side < 2 ? Math.min : Math.max)(...boxes.map((one) => one[side] as number)))
        : undefined;
      // Its characters count towards the page's body size: a page of tables is still set in its body font.
      const sizes = new Map<number, number>();
      let chars = 0;
      for (const at of table.runs) {
        const one = runs[at];
        if (!one) continue;
        const size = round1(Math.hypot(one.transform[2] ?? 0, one.transform[3] ?? 0));
        sizes.set(size, (sizes.get(size) ?? 0) + one.str.length);
        chars += one.str.length;
      }
      const size = [...sizes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 0;
      open.push({ text: '', x: 0, y: 0, size, chars, table: table.rows, ...(box ? { box } : {}) });
    }
    if (skipped.has(index) || !run.str.trim()) continue;
    const placed = placeRun(run);
    const line = open[open.length - 1];
    if (line && isOpen(line) && continuesLine(line, placed)) addRun(line, placed);
    else {
      const started = openLine(placed);
      addRun(started, placed);
      open.push(started);
    }
  }
  return markSideways(open);
};

const isOpen = (line: OpenLine | PdfLine): line is OpenLine => 'sizes' in line;

/** Lines in another direction than most of the page's text are labels in the margin, not body text. */
const markSideways = (open: Array<OpenLine | PdfLine>): PdfLine[] => {
  const charsByQuarter = [0, 0, 0, 0];
  for (const line of open) {
    if (isOpen(line)) charsByQuarter[line.quarter] = (charsByQuarter[line.quarter] ?? 0) + line.chars;
  }
  const mainQuarter = charsByQuarter.indexOf(Math.max(...charsByQuarter));
  return open.map((line) => {
    if (!isOpen(line)) return line;
    const closed = closeLine(line);
    if (line.quarter !== mainQuarter) closed.sideways = true;
    return closed;
  });
};

/** A line this much larger than the body text (and short) is a heading. */
const HEADING_SIZE_RATIO = 1.15;
/** A line larger than the body text by less than that is a heading only when it is this short and stands alone. */
const MAX_SHORT_HEADING_CHARS = 80;
/** Sizes within this ratio of each other are one heading level. */
const SAME_LEVEL_RATIO = 0.95;
/** Heading levels in all (`#` to `####`); sizes take at most the first three, emphasis and numbering the one below. */
const MAX_HEADING_LEVELS = 4;
const MAX_SIZE_LEVELS = 3;
/** Longer than this, a line in a large font is a paragraph, not a heading. */
const MAX_HEADING_CHARS = 200;
const MAX_HEADING_LINES = 3;
/** A gap this much wider than the usual line spacing starts a paragraph. */
const PARAGRAPH_GAP_RATIO = 1.3;
/** A line starting this much (in ems) right of the one above starts a paragraph (an indented first line). */
const INDENT_EM = 0.8;
/** Lines of one heading lie at most this far apart (in ems). */
const HEADING_LINE_GAP_EM = 1.6;
/** Table rows lie at most this many usual line spacings apart (cells have padding). */
const TABLE_ROW_GAP_RATIO = 3;

/** The document-wide measures the layout is judged by. */
interface DocumentStyle {
  /** The font size of most characters. */
  bodySize: number;
  /** The usual distance between the baselines of body lines. */
  lineSpacing: number;
  /** The smallest font size of each heading level, largest first: index 0 is `#`. */
  headingSizes: number[];
  /** Characters in a full line of body text (the 90th percentile of body lines' lengths). */
  fullLineChars: number;
}

/** A line this much shorter than a full body line ends where it does by itself: a heading or a paragraph's last line. */
const SHORT_LINE_SHARE = 0.7;

const fullLineCharsOf = (pages: readonly (readonly PdfLine[])[], bodySize: number): number => {
  const lengths = pages
    .flat()
    .filter((line) => sizeKey(line.size) === bodySize && !line.cells && !line.sideways)
    .map((line) => line.text.length)
    .sort((a, b) => a - b);
  return lengths[Math.floor(lengths.length * 0.9)] ?? 0;
};

/** Sizes are compared in half points: scaled text matrices give 9.96 and 10.02 for one font size. */
const sizeKey = (size: number): number => Math.round(size * 2) / 2;

/** Within 5%: lines of one paragraph may differ by a rounding or a horizontal scale. */
const sameSize = (a: number, b: number): boolean => Math.abs(a - b) <= 0.05 * Math.max(a, b);

const mostCommon = (weights: Map<number, number>): number | undefined => {
  let best: number | undefined;
  for (const [value, weight] of weights) if (best === undefined || weight > (weights.get(best) ?? 0)) best = value;
  return best;
};

const addWeight = (weights: Map<number, number>, value: number, weight: number): void => {
  weights.set(value, (weights.get(value) ?? 0) + weight);
};

const bodySizeOf = (pages: readonly (readonly PdfLine[])[]): number => {
  const chars = new Map<number, number>();
  for (const line of pages.flat())
    if (!line.sideways) addWeight(chars, sizeKey(line.size), line.chars ?? line.text.length);
  return mostCommon(chars) ?? 0;
};

const lineSpacingOf = (pages: readonly (readonly PdfLine[])[], bodySize: number): number => {
  const gaps = new Map<number, number>();
  for (const lines of pages) {
    lines.forEach((line, index) => {
      const previous = lines[index - 1];
      if (!previous || sizeKey(line.size) !== bodySize || sizeKey(previous.size) !== bodySize) return;
      const gap = sizeKey(previous.y - line.y);
      if (gap > bodySize / 2 && gap <= bodySize * 3) addWeight(gaps, gap, 1);
    });
  }
  return mostCommon(gaps) ?? bodySize * 1.2;
};

/** Lines of one heading or paragraph: same size and weight, a line's height or so apart. */
const continuesHeading = (previous: PdfLine, line: PdfLine): boolean => {
  const gap = previous.y - line.y;
  return (
    sameSize(previous.size, line.size) &&
    Boolean(previous.bold) === Boolean(line.bold) &&
    Boolean(previous.italic) === Boolean(line.italic) &&
    gap > 0 &&
    gap <= HEADING_LINE_GAP_EM * line.size
  );
};

const standsAlone = (lines: readonly PdfLine[], index: number): boolean => {
  const line = lines[index] as PdfLine;
  const previous = lines[index - 1];
  const next = lines[index + 1];
  return !(previous && continuesHeading(previous, line)) && !(next && continuesHeading(line, next));
};

/**
 * The size that makes a line a heading, else undefined: a size clearly
 * larger than the body text's, or a slightly larger one on a short line that
 * stands alone ("1 Introduction" in 12 points over 11-point text).
 */
const headingSizeOf = (lines: readonly PdfLine[], index: number, bodySize: number): number | undefined => {
  const line = lines[index] as PdfLine;
  const size = sizeKey(line.size);
  // Cheap tests first: most lines are body text.
  if (size <= bodySize || line.sideways || line.mono || line.cells || line.text.length > MAX_HEADING_CHARS) {
    return undefined;
  }
  if (lettersOf(line.text) < MIN_SIZED_HEADING_LETTERS || listItemOf(line.text)) return undefined;
  if (size >= bodySize * HEADING_SIZE_RATIO) return size;
  const short = line.text.length <= MAX_SHORT_HEADING_CHARS;
  return size > bodySize && short && standsAlone(lines, index) ? size : undefined;
};

const headingSizesOf = (pages: readonly (readonly PdfLine[])[], bodySize: number): number[] => {
  const sizes = new Set<number>();
  for (const lines of pages) {
    lines.forEach((_, index) => {
      const size = headingSizeOf(lines, index, bodySize);
      if (size !== undefined) sizes.add(size);
    });
  }
  const levels: number[] = [];
  for (const size of [...sizes].sort((a, b) => b - a)) {
    const smallest = levels[levels.length - 1];
    // A size close to the last level's joins it, and so does every size past the sixth level.
    const joinsLast =
      smallest !== undefined && (size >= smallest * SAME_LEVEL_RATIO || levels.length === MAX_SIZE_LEVELS);
    if (joinsLast) levels[levels.length - 1] = size;
    else levels.push(size);
  }
  return levels;
};

const documentStyleOf = (pages: readonly (readonly PdfLine[])[]): DocumentStyle => {
  const bodySize = bodySizeOf(pages);
  return {
    bodySize,
    lineSpacing: lineSpacingOf(pages, bodySize),
    headingSizes: headingSizesOf(pages, bodySize),
    fullLineChars: fullLineCharsOf(pages, bodySize),
  };
};

type Block =
  | { kind: 'heading'; level: number; lines: PdfLine[] }
  | { kind: 'paragraph'; lines: PdfLine[] }
  | { kind: 'item'; marker: string; lines: PdfLine[] }
  | { kind: 'table'; rows: string[][]; source?: readonly PdfLine[] };

/** "5.1 Results", "2 Methods", "A.3 Proofs", "IV. Discussion": a section number, then a title. */
const SECTION_NUMBER = /^(?:\d{1,2}(?:\.\d{1,2}){0,4}|[A-Z](?:\.\d{1,2}){1,4}|[IVX]{1,5}\.)\s+\p{Lu}/u;
/** A caption or note: never a heading, whatever its face. */
const CAPTION = /^(?:fig(?:ure)?|table|tab|source|note|chart|exhibit|listing|photo)\.?\s*[\dIVX]/iu;
/** Fewer letters than this is a table cell or a label ("No", "Yes"), not a heading of its own. */
const MIN_HEADING_LETTERS = 4;
/** A larger size says more: "FAQ" can head a section, "No" cannot. */
const MIN_SIZED_HEADING_LETTERS = 3;

const lettersOf = (text: string): number => text.match(/\p{L}/gu)?.length ?? 0;

/** The line above ends a paragraph: a gap wider than the usual spacing, or a column's or page's start. */
const opensBlock = (lines: readonly PdfLine[], index: number, style: DocumentStyle): boolean => {
  const line = lines[index] as PdfLine;
  const previous = lines[index - 1];
  if (!previous) return true;
  const gap = previous.y - line.y;
  return gap <= 0 || gap > expectedSpacing(line.size, style) * PARAGRAPH_GAP_RATIO;
};

/**
 * A heading of body size: short, standing alone after a paragraph's end,
 * and either in an emphasised face (bold or italic, the whole line: a run-in
 * bold start of a paragraph is not) or numbered as a section ("5.1 Results").
 * Never a caption, nor a word or two of a table or a form, nor one of
 * several such lines in a row.
 */
const isBodySizeHeading = (lines: readonly PdfLine[], index: number, style: DocumentStyle): boolean =>
  bodySizeCandidate(lines, index, style) &&
  !bodySizeCandidate(lines, index - 1, style) &&
  !bodySizeCandidate(lines, index + 1, style);

/**
 * What a body-size heading looks like on its own. Several in a row are not
 * headings but a block of emphasised lines (a syntax diagram, a cover's
 * taglines, a keyword list): a heading heads body text.
 */
const bodySizeCandidate = (lines: readonly PdfLine[], index: number, style: DocumentStyle): boolean => {
  const line = lines[index];
  // Cheap tests first: most lines are body text in the body's face.
  if (!line || sizeKey(line.size) !== style.bodySize || line.mono || line.sideways || line.cells) return false;
  const text = line.text.trim();
  if (text.length > MAX_SHORT_HEADING_CHARS) return false;
  if (!line.bold && !line.italic && !SECTION_NUMBER.test(text)) return false;
  if (listItemOf(line.text)) return false;
  if (line.cells || lettersOf(text) < MIN_HEADING_LETTERS || CAPTION.test(text) || /[,;]$/.test(text)) return false;
  if (!opensBlock(lines, index, style)) return false;
  if (line.bold === true || line.italic === true) return standsAlone(lines, index);
  // A numbered line in the body's face: a heading when it is short and body text follows (a paragraph's first line is full).
  const short = text.length <= style.fullLineChars * SHORT_LINE_SHARE;
  const next = lines[index + 1];
  return SECTION_NUMBER.test(text) && !/[.:]$/.test(text) && short && next !== undefined && !listItemOf(next.text);
};

/**
 * Level 1–4 of a heading line, else undefined: sizes clearly above the body
 * text's rank first, body-size headings below them. Code (a monospaced
 * face), list items and lines across the page are never headings.
 */
const headingLevel = (lines: readonly PdfLine[], index: number, style: DocumentStyle): number | undefined => {
  const line = lines[index] as PdfLine;
  if (line.mono || line.sideways || line.cells || listItemOf(line.text)) return undefined;
  const size = headingSizeOf(lines, index, style.bodySize);
  if (size !== undefined) {
    const level = style.headingSizes.findIndex((smallest) => size >= smallest) + 1;
    return level > 0 ? level : undefined;
  }
  return isBodySizeHeading(lines, index, style)
    ? Math.min(style.headingSizes.length + 1, MAX_HEADING_LEVELS)
    : undefined;
};

const BULLET = /^(?:[•◦▪▫●○■□‣⁃]\s*|[-*–]\s+)(?=\S)/u;
/** "1." "2)" "a)": digits or one lowercase letter (an initial like "J. Smith" is not an item). */
const ORDINAL = /^(?:(\d{1,3})|([a-z]))[.)]\s+(?=\S)/;

/** The Markdown marker and the text of a line that starts a list item, else undefined. */
export const listItemOf = (text: string): { marker: string; text: string } | undefined => {
  const bullet = BULLET.exec(text);
  if (bullet) return { marker: '-', text: text.slice(bullet[0].length) };
  const ordinal = ORDINAL.exec(text);
  if (!ordinal) return undefined;
  const [marker, digits, letter] = ordinal;
  const number = digits === undefined ? (letter ?? 'a').charCodeAt(0) - 'a'.charCodeAt(0) + 1 : Number(digits);
  return { marker: `${number}.`, text: text.slice(marker.length) };
};

/** The distance the usual line spacing becomes for a line of this size. */
const expectedSpacing = (size: number, style: DocumentStyle): number =>
  style.bodySize > 0 ? (style.lineSpacing * size) / style.bodySize : size * 1.2;

/** Whether `line` goes on in the paragraph or list item whose last line is `previous`. */
const continuesBlock = (
  block: Extract<Block, { lines: PdfLine[] }>,
  previous: PdfLine,
  line: PdfLine,
  style: DocumentStyle,
): boolean => {
  if (Boolean(previous.sideways) !== Boolean(line.sideways) || !sameSize(previous.size, line.size)) return false;
  const gap = previous.y - line.y;
  if (gap <= 0 || gap > expectedSpacing(line.size, style) * PARAGRAPH_GAP_RATIO) return false;
  // An item's wrapped lines may hang under its text; a line left of its marker is past the list.
  if (block.kind === 'item') return line.x >= (block.lines[0] as PdfLine).x - SAME_LINE_EM * line.size;
  return line.x - previous.x <= INDENT_EM * line.size;
};

/** A table's column: the span its cells cover so far. */
interface Column {
  x: number;
  end: number;
}

/**
 * The column a cell belongs to: the one whose span it overlaps, so left-,
 * right- and centre-aligned cells all find theirs; when it overlaps none
 * (a right-aligned number under a left-aligned header), the last column
 * starting left of it. -1 when it overlaps two (a cell across columns) or
 * lies left of all.
 */
const columnOf = (columns: readonly Column[], cell: { x: number; end: number }, size: number): number => {
  const hits = columns.flatMap((column, index) => (cell.x <= column.end && cell.end >= column.x ? [index] : []));
  if (hits.length) return hits.length === 1 ? (hits[0] as number) : -1;
  let found = -1;
  columns.forEach((column, index) => {
    if (column.x <= cell.x + size * 0.5) found = index;
  });
  return found;
};

/** The line's cells placed in the columns, or undefined when one falls outside them or two share one. */
const rowOf = (line: PdfLine, columns: readonly Column[]): string[] | undefined => {
  // Code is never a table, however its indents line up.
  if (!line.cells || line.sideways || line.mono) return undefined;
  const row = columns.map(() => '');
  const placed: Array<[number, LineCell]> = [];
  for (const cell of line.cells) {
    const column = columnOf(columns, cell, line.size);
    if (column < 0 || row[column]) return undefined;
    row[column] = cell.text;
    placed.push([column, cell]);
  }
  for (const [index, cell] of placed) {
    const column = columns[index] as Column;
    column.x = Math.min(column.x, cell.x);
    column.end = Math.max(column.end, cell.end);
  }
  return row;
};

const isNextRow = (previous: PdfLine, line: PdfLine, style: DocumentStyle): boolean => {
  const gap = previous.y - line.y;
  return gap > 0 && gap <= expectedSpacing(line.size, style) * TABLE_ROW_GAP_RATIO;
};

/**
 * The table starting at `start`: consecutive lines whose cells fall into the
 * first line's columns. A one-cell line under a column other than the first
 * is a cell's wrapped text. At least two rows of two or more cells.
 */
const tableAt = (
  lines: readonly PdfLine[],
  start: number,
  style: DocumentStyle,
): { end: number; rows: string[][] } | undefined => {
  const first = lines[start] as PdfLine;
  const columns = first.cells?.map((cell) => ({ x: cell.x, end: cell.end }));
  const header = columns && rowOf(first, columns);
  if (!columns || !header) return undefined;
  const rows = [header];
  let end = start;
  for (let index = start + 1; index < lines.length; index++) {
    const line = lines[index] as PdfLine;
    if (!isNextRow(lines[index - 1] as PdfLine, line, style)) break;
    const row = rowOf(line, columns);
    const wrapped =
      line.cells || line.sideways || line.mono ? -1 : columnOf(columns, { x: line.x, end: line.x }, line.size);
    const last = rows[rows.length - 1] as string[];
    if (row) rows.push(row);
    else if (wrapped > 0) last[wrapped] = joinLines([last[wrapped] ?? '', line.text].filter(Boolean));
    else break;
    end = index;
  }
  return rows.length >= 2 ? { end, rows } : undefined;
};

/** A table-of-contents line: a title, dot leaders, a page label ("1.2 Scope . . . . 14", "Preface ..... xi"). */
const CONTENTS_LINE = /^(.*?\S)\s*(?:\.\s?){4,}\s*([\p{L}\d][\p{L}\d.-]{0,7})$/u;
/** Fewer entries than this are a stray dotted line, not a table of contents. */
const MIN_CONTENTS_ENTRIES = 3;

/** A run of table-of-contents lines from `start`, as a two-column table (entry, page). */
const contentsAt = (lines: readonly PdfLine[], start: number): { end: number; rows: string[][] } | undefined => {
  const rows: string[][] = [];
  let index = start;
  for (; index < lines.length; index++) {
    const match = CONTENTS_LINE.exec((lines[index] as PdfLine).text);
    if (!match) break;
    rows.push([(match[1] as string).replace(/(?:\s*\.)+$/, ''), match[2] as string]);
  }
  return rows.length >= MIN_CONTENTS_ENTRIES ? { end: index - 1, rows } : undefined;
};

const blocksOf = (lines: readonly PdfLine[], style: DocumentStyle): Block[] => {
  const blocks: Block[] = [];
  for (let index = 0; index < lines.length; index++) {
    const ruled = lines[index]?.table;
    if (ruled) {
      blocks.push({ kind: 'table', rows: ruled, source: [lines[index] as PdfLine] });
      continue;
    }
    const contents = contentsAt(lines, index);
    if (contents) {
      blocks.push({
        kind: 'table',
        rows: [['Contents', 'Page'], ...contents.rows],
        source: lines.slice(index, contents.end + 1),
      });
      index = contents.end;
      continue;
    }
    const table = tableAt(lines, index, style);
    if (table) {
      blocks.push({ kind: 'table', rows: table.rows, source: lines.slice(index, table.end + 1) });
      index = table.end;
      continue;
    }
    const line = lines[index] as PdfLine;
    const last = blocks[blocks.length - 1];
    const previous = last && 'lines' in last ? last.lines[last.lines.length - 1] : undefined;
    const level = headingLevel(lines, index, style);
    const item = listItemOf(line.text);
    if (level !== undefined) {
      if (last?.kind === 'heading' && last.level === level && previous && continuesHeading(previous, line)) {
        last.lines.push(line);
      } else blocks.push({ kind: 'heading', level, lines: [line] });
    } else if (item) {
      blocks.push({ kind: 'item', marker: item.marker, lines: [{ ...line, text: item.text }] });
    } else if (last && last.kind !== 'heading' && last.kind !== 'table' && previous) {
      if (continuesBlock(last, previous, line, style)) last.lines.push(line);
      else blocks.push({ kind: 'paragraph', lines: [line] });
    } else blocks.push({ kind: 'paragraph', lines: [line] });
  }
  return blocks;
};

const CJK_END = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]$/u;
const CJK_START = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;

/**
 * Joins wrapped lines: with a space, except a word hyphenated at the end of
 * a line ("exam-" + "ple") and Chinese or Japanese, which has no spaces.
 */
export const joinLines = (texts: readonly string[]): string =>
  texts.reduce((joined, next) => {
    if (!joined) return next;
    if (/\p{L}-$/u.test(joined) && /^\p{Ll}/u.test(next)) return joined.slice(0, -1) + next;
    if (CJK_END.test(joined) && CJK_START.test(next)) return joined + next;
    return `${joined} ${next}`;
  }, '');

/** Text that Markdown would read as a heading, quote or list marker at the start of a paragraph. */
const escapeParagraph = (text: string): string => text.replace(/^([#>+])/, '\\$1');

const escapeCell = (text: string): string => text.replace(/\|/g, '\\|');

const tableRow = (cells: readonly string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;

const renderBlock = (block: Block): string => {
  if (block.kind === 'table') {
    const [header = [], ...body] = block.rows;
    return [tableRow(header), tableRow(header.map(() => '---')), ...body.map(tableRow)].join('\n');
  }
  const text = joinLines(block.lines.map((line) => line.text));
  if (block.kind === 'item') return `${block.marker} ${text}`;
  const isHeading =
    block.kind === 'heading' && block.lines.length <= MAX_HEADING_LINES && text.length <= MAX_HEADING_CHARS;
  return isHeading ? `${'#'.repeat(block.level)} ${text}` : escapeParagraph(text);
};

/**
 * Three or more headings of one level, one after the other with nothing
 * between, are no headings: a cover's taglines, a list of names, a syntax
 * diagram in bold. (A heading heads something; two in a row are a section
 * and its first subsection, whose levels the sizes may not tell apart.)
 */
const MIN_HEADING_RUN = 3;

const withoutHeadingRuns = (blocks: Block[]): Block[] => {
  const out = [...blocks];
  for (let start = 0; start < out.length;) {
    const first = out[start] as Block;
    let end = start + 1;
    if (first.kind === 'heading') {
      while (end < out.length && out[end]?.kind === 'heading' && (out[end] as { level: number }).level === first.level)
        end++;
      if (end - start >= MIN_HEADING_RUN) {
        for (let at = start; at < end; at++)
          out[at] = { kind: 'paragraph', lines: (out[at] as { lines: PdfLine[] }).lines };
      }
    }
    start = end;
  }
  return out;
};

/** A page's Markdown, and where each block stands in it with the boxes of its lines. */
export interface RenderedPage {
  text: string;
  spans: Array<{ start: number; end: number; boxes: number[][] }>;
}

const linesOfBlock = (block: Block): readonly PdfLine[] => ('lines' in block ? block.lines : (block.source ?? []));

const renderPage = (lines: readonly PdfLine[], style: DocumentStyle): RenderedPage => {
  const blocks = withoutHeadingRuns(blocksOf(lines, style));
  // Items of one list are kept together (a tight list); every other block is set apart by a blank line.
  let text = '';
  const spans: RenderedPage['spans'] = [];
  blocks.forEach((block, index) => {
    text += index === 0 ? '' : block.kind === 'item' && blocks[index - 1]?.kind === 'item' ? '\n' : '\n\n';
    const start = text.length;
    text += renderBlock(block);
    const boxes = linesOfBlock(block).flatMap((line) => (line.box ? [line.box] : []));
    if (boxes.length) spans.push({ start, end: text.length, boxes });
  });
  return { text, spans };
};

/** Markdown for each page, judged by the measures of all of them, with where each block stands. */
export const renderMarkdownPages = (pages: readonly (readonly PdfLine[])[]): RenderedPage[] => {
  const style = documentStyleOf(pages);
  return pages.map((lines) => renderPage(lines, style));
};

/** Markdown for each page, judged by the measures of all of them. */
export const renderMarkdown = (pages: readonly (readonly PdfLine[])[]): string[] =>
  renderMarkdownPages(pages).map((page) => page.text);
