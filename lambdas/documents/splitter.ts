import { AppError } from '../errors.js';

/**
 * The recursive character splitter of LangChain's `RecursiveCharacterTextSplitter`
 * (`@langchain/textsplitters`), re-implemented over offsets into the parent text.
 *
 * Why not the library at run time: it would add about 0.5 MB (with
 * `@langchain/core`) to the worker bundle, and its `start_index` comes from
 * `indexOf` searches that land on the wrong copy of a repeated passage. Working
 * on offsets gives the exact position of every chunk for free and runs faster
 * (see `npm run bench`). A differential test against the library (a
 * devDependency) on every corpus text and on generated strings keeps the
 * chunks identical.
 *
 * Semantics kept from LangChain: separators `"\n\n"`, `"\n"`, `" "`, `""`
 * tried in order; a separator stays attached to the start of the piece that
 * follows it (`keepSeparator: true`); lengths are JavaScript string lengths
 * (UTF-16 code units, so `""` may split a surrogate pair, as LangChain does);
 * merged chunks are trimmed and empty ones dropped; a piece that is still too
 * long after the last separator is emitted as it is.
 */
export const DEFAULT_SEPARATORS = ['\n\n', '\n', ' ', ''] as const;

export interface Chunk {
  text: string;
  /** Offset of `text` in the parent: `parent.slice(start, start + text.length) === text`. */
  start: number;
}

/**
 * What one split (or several sharing it) may produce. Overlap makes output
 * larger than input (size 10, overlap 9: ten characters out per character
 * in), so the cap is on output, checked as each chunk is made.
 */
export interface SplitBudget {
  chunks: number;
  characters: number;
}

/** LangChain's separators for Markdown (`RecursiveCharacterTextSplitter.getSeparatorsForLanguage('markdown')`). */
export const MARKDOWN_SEPARATORS = [
  '\n## ',
  '\n### ',
  '\n#### ',
  '\n##### ',
  '\n###### ',
  '```\n\n',
  '\n\n***\n\n',
  '\n\n---\n\n',
  '\n\n___\n\n',
  '\n\n',
  '\n',
  ' ',
  '',
] as const;

/**
 * A chunk's size in other units than characters (tokens). With one, the
 * merging is LangChain's over measured pieces (its `lengthFunction`), and
 * every chunk is measured again as emitted: pieces measured apart can count
 * differently from their concatenation, and no chunk may exceed the size.
 */
export type Measure = (text: string) => number;

export interface SplitterSettings {
  chunkSize: number;
  chunkOverlap: number;
  separators?: readonly string[];
  /** Default: characters (UTF-16 code units), on a fast path that measures nothing. */
  measure?: Measure;
  /** Spent as chunks are made; DOCUMENT_TOO_LARGE when it runs out. Default: unlimited. */
  budget?: SplitBudget;
}

/**
 * Boundaries of contiguous pieces: piece `i` is `[cuts[i], cuts[i + 1])`. A
 * flat list of numbers rather than a pair per piece: pieces can be one or two
 * characters long, and pairs cost about 60 bytes each.
 */
type Cuts = number[];

export class RecursiveCharacterSplitter {
  private readonly chunkSize: number;
  private readonly chunkOverlap: number;
  private readonly separators: readonly string[];
  private readonly budget: SplitBudget;
  private readonly measure: Measure | undefined;

  constructor({ chunkSize, chunkOverlap, separators = DEFAULT_SEPARATORS, budget, measure }: SplitterSettings) {
    if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError('chunkSize must be a positive integer');
    if (!Number.isInteger(chunkOverlap) || chunkOverlap < 0)
      throw new RangeError('chunkOverlap must be a non-negative integer');
    if (chunkOverlap >= chunkSize) throw new RangeError('chunkOverlap must be less than chunkSize');
    this.chunkSize = chunkSize;
    this.chunkOverlap = chunkOverlap;
    this.separators = separators;
    this.budget = budget ?? { chunks: Infinity, characters: Infinity };
    this.measure = measure;
  }

  split(text: string): Chunk[] {
    return this.splitPart(text, 0, text.length);
  }

  /** Chunks of `text.slice(start, end)`, with offsets into the whole `text`. */
  splitPart(text: string, start: number, end: number): Chunk[] {
    const chunks: Chunk[] = [];
    this.splitRange(text, start, end, this.separators, chunks);
    return chunks;
  }

  private sizeOf(text: string, start: number, end: number): number {
    return this.measure ? this.measure(text.slice(start, end)) : end - start;
  }

  /**
   * Every search looks at `[start, end)` only (a slice, which V8 makes
   * without copying): searching on to the end of the whole text made
   * splitting quadratic when a long stretch has no separator.
   */
  private splitRange(text: string, start: number, end: number, separators: readonly string[], out: Chunk[]): void {
    const range = text.slice(start, end);
    let separator = separators[separators.length - 1] ?? '';
    let rest: readonly string[] | undefined;
    for (let index = 0; index < separators.length; index++) {
      const candidate = separators[index] as string;
      if (candidate === '') {
        separator = candidate;
        break;
      }
      if (range.includes(candidate)) {
        separator = candidate;
        rest = separators.slice(index + 1);
        break;
      }
    }
    if (separator === '') {
      this.splitCharacters(text, start, end, out);
      return;
    }

    const cuts = cutsOf(range, start, separator);
    let goodFrom = -1;
    for (let index = 0; index + 1 < cuts.length; index++) {
      const pieceStart = cuts[index] as number;
      const pieceEnd = cuts[index + 1] as number;
      if (this.sizeOf(text, pieceStart, pieceEnd) < this.chunkSize) {
        if (goodFrom < 0) goodFrom = index;
        continue;
      }
      if (goodFrom >= 0) {
        this.merge(text, cuts, goodFrom, index, out);
        goodFrom = -1;
      }
      if (rest) this.splitRange(text, pieceStart, pieceEnd, rest, out);
      else this.push(out, text.slice(pieceStart, pieceEnd), pieceStart);
    }
    if (goodFrom >= 0) this.merge(text, cuts, goodFrom, cuts.length - 1, out);
  }

  /**
   * The `""` separator: one-character pieces. Merging them gives windows of
   * `chunkSize` characters every `chunkSize - chunkOverlap`, computed here
   * without listing the pieces. With a chunk size of 1 every character is a
   * chunk of its own, untrimmed, as LangChain emits a piece that is already
   * too long.
   */
  private splitCharacters(text: string, start: number, end: number, out: Chunk[]): void {
    if (this.measure) {
      this.splitMeasuredWindows(text, start, end, out);
      return;
    }
    if (this.chunkSize === 1) {
      for (let at = start; at < end; at++) this.push(out, text.charAt(at), at);
      return;
    }
    const step = this.chunkSize - this.chunkOverlap;
    let windowStart = start;
    for (; windowStart + this.chunkSize < end; windowStart += step) {
      this.emit(text, windowStart, windowStart + this.chunkSize, out);
    }
    if (windowStart < end) this.emit(text, windowStart, end, out);
  }

  /**
   * The `""` separator with a measure: windows as long as fit in the chunk
   * size, found by bisection (a measure grows, near enough monotonically,
   * with the text), each next window starting where at most the overlap of
   * the last one is repeated. Cuts fall between code points. LangChain would
   * merge one-character pieces measured apart, which for tokens packs a
   * chunk with far fewer tokens than it may hold.
   */
  private splitMeasuredWindows(text: string, start: number, end: number, out: Chunk[]): void {
    const measure = this.measure as Measure;
    const fits = (from: number, to: number, size: number) => measure(text.slice(from, to).trim()) <= size;
    let windowStart = start;
    while (windowStart < end) {
      // Gallop to an end that does not fit (text past it is never measured), then bisect.
      let low = nextCodePoint(text, windowStart);
      let high = Math.max(low, codePointStart(text, Math.min(end, windowStart + this.chunkSize * 4)));
      while (high < end && fits(windowStart, high, this.chunkSize)) {
        low = high;
        high = codePointStart(text, Math.min(end, windowStart + (high - windowStart) * 2));
      }
      if (fits(windowStart, high, this.chunkSize)) low = high;
      while (high - low > 1) {
        const middle = codePointStart(text, (low + high) >>> 1);
        if (middle <= low) break;
        if (fits(windowStart, middle, this.chunkSize)) low = middle;
        else high = middle;
      }
      const windowEnd = low;
      this.emitTrimmed(text, windowStart, windowEnd, out);
      if (windowEnd >= end) return;
      windowStart = this.overlapStart(text, windowStart, windowEnd);
    }
  }

  /** The earliest start after `from` whose text up to `to` fits in the overlap (`to` for no overlap). */
  private overlapStart(text: string, from: number, to: number): number {
    if (this.chunkOverlap === 0) return to;
    const measure = this.measure as Measure;
    let low = nextCodePoint(text, from);
    let high = to;
    if (measure(text.slice(low, to)) <= this.chunkOverlap) return low;
    while (high - low > 1) {
      const middle = codePointStart(text, (low + high) >>> 1);
      if (middle <= low) break;
      if (measure(text.slice(middle, to)) <= this.chunkOverlap) high = middle;
      else low = middle;
    }
    return high;
  }

  /** LangChain's `mergeSplits` with an empty join separator, over pieces `from` to `to - 1`. */
  private merge(text: string, cuts: Cuts, from: number, to: number, out: Chunk[]): void {
    const lengthOf = this.measure
      ? measuredLengths(text, cuts, from, to, this.measure)
      : (index: number) => (cuts[index + 1] as number) - (cuts[index] as number);
    let windowStart = from;
    let total = 0;
    for (let index = from; index < to; index++) {
      const length = lengthOf(index);
      if (total + length > this.chunkSize && index > windowStart) {
        this.emit(text, cuts[windowStart] as number, cuts[index] as number, out);
        while (total > this.chunkOverlap || (total + length > this.chunkSize && total > 0)) {
          total -= lengthOf(windowStart);
          windowStart++;
        }
      }
      total += length;
    }
    if (windowStart < to) this.emit(text, cuts[windowStart] as number, cuts[to] as number, out);
  }

  /**
   * A chunk is the trimmed text of its pieces; all-whitespace chunks are
   * dropped. Measured chunks that exceed the size once joined are cut again.
   */
  private emit(text: string, start: number, end: number, out: Chunk[]): void {
    if (this.measure && this.measure(text.slice(start, end).trim()) > this.chunkSize) {
      this.splitMeasuredWindows(text, start, end, out);
      return;
    }
    this.emitTrimmed(text, start, end, out);
  }

  private emitTrimmed(text: string, start: number, end: number, out: Chunk[]): void {
    const raw = text.slice(start, end);
    const trimmedStart = raw.trimStart();
    if (!trimmedStart) return;
    this.push(out, trimmedStart.trimEnd(), start + raw.length - trimmedStart.length);
  }

  private push(out: Chunk[], chunk: string, start: number): void {
    this.budget.chunks -= 1;
    this.budget.characters -= chunk.length;
    if (this.budget.chunks < 0 || this.budget.characters < 0) {
      throw new AppError(
        'DOCUMENT_TOO_LARGE',
        'Splitting produces more chunks or text than a result may hold; use a larger chunk_size or a smaller chunk_overlap.',
      );
    }
    out.push({ text: chunk, start });
  }
}

/** Each piece measured once, on demand (a merge reads a length up to three times). */
const measuredLengths = (text: string, cuts: Cuts, from: number, to: number, measure: Measure) => {
  const lengths = new Array<number | undefined>(to - from);
  return (index: number): number => (lengths[index - from] ??= measure(text.slice(cuts[index], cuts[index + 1])));
};

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** `at`, or one back if `at` would split a surrogate pair. */
const codePointStart = (text: string, at: number): number =>
  at > 0 && isLowSurrogate(text.charCodeAt(at)) && isHighSurrogate(text.charCodeAt(at - 1)) ? at - 1 : at;

/** The offset after the code point at `at`. */
const nextCodePoint = (text: string, at: number): number =>
  isHighSurrogate(text.charCodeAt(at)) && isLowSurrogate(text.charCodeAt(at + 1)) ? at + 2 : at + 1;

/**
 * LangChain splits with the look-ahead `(?=separator)`: a cut before every
 * occurrence (overlapping ones included) except at the very start. `range`
 * starts at `offset` in the parent.
 */
const cutsOf = (range: string, offset: number, separator: string): Cuts => {
  const cuts: Cuts = [offset];
  for (let at = range.indexOf(separator, 1); at !== -1; at = range.indexOf(separator, at + 1)) cuts.push(offset + at);
  cuts.push(offset + range.length);
  return cuts;
};
