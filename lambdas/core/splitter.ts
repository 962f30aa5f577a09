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

export interface SplitterSettings {
  chunkSize: number;
  chunkOverlap: number;
  separators?: readonly string[];
}

/** A piece of the parent: `[start, end)`. Pieces handed to one merge are contiguous. */
type Piece = readonly [start: number, end: number];

export class RecursiveCharacterSplitter {
  private readonly chunkSize: number;
  private readonly chunkOverlap: number;
  private readonly separators: readonly string[];

  constructor({ chunkSize, chunkOverlap, separators = DEFAULT_SEPARATORS }: SplitterSettings) {
    if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError('chunkSize must be a positive integer');
    if (!Number.isInteger(chunkOverlap) || chunkOverlap < 0)
      throw new RangeError('chunkOverlap must be a non-negative integer');
    if (chunkOverlap >= chunkSize) throw new RangeError('chunkOverlap must be less than chunkSize');
    this.chunkSize = chunkSize;
    this.chunkOverlap = chunkOverlap;
    this.separators = separators;
  }

  split(text: string): Chunk[] {
    const chunks: Chunk[] = [];
    this.splitRange(text, 0, text.length, this.separators, chunks);
    return chunks;
  }

  private splitRange(text: string, start: number, end: number, separators: readonly string[], out: Chunk[]): void {
    let separator = separators[separators.length - 1] ?? '';
    let rest: readonly string[] | undefined;
    for (let index = 0; index < separators.length; index++) {
      const candidate = separators[index] as string;
      if (candidate === '') {
        separator = candidate;
        break;
      }
      const found = text.indexOf(candidate, start);
      if (found !== -1 && found + candidate.length <= end) {
        separator = candidate;
        rest = separators.slice(index + 1);
        break;
      }
    }

    let good: Piece[] = [];
    for (const piece of this.piecesOf(text, start, end, separator)) {
      if (piece[1] - piece[0] < this.chunkSize) {
        good.push(piece);
        continue;
      }
      if (good.length) {
        this.merge(text, good, out);
        good = [];
      }
      if (rest) this.splitRange(text, piece[0], piece[1], rest, out);
      else out.push({ text: text.slice(piece[0], piece[1]), start: piece[0] });
    }
    if (good.length) this.merge(text, good, out);
  }

  /**
   * LangChain splits with the look-ahead `(?=separator)`: a cut before every
   * occurrence (overlapping ones included) except at the very start.
   */
  private piecesOf(text: string, start: number, end: number, separator: string): Piece[] {
    const pieces: Piece[] = [];
    if (separator === '') {
      for (let at = start; at < end; at++) pieces.push([at, at + 1]);
      return pieces;
    }
    let from = start;
    let at = text.indexOf(separator, start + 1);
    while (at !== -1 && at + separator.length <= end) {
      pieces.push([from, at]);
      from = at;
      at = text.indexOf(separator, at + 1);
    }
    pieces.push([from, end]);
    return pieces;
  }

  /** LangChain's `mergeSplits` with an empty join separator (the separators stay in the pieces). */
  private merge(text: string, pieces: Piece[], out: Chunk[]): void {
    let windowStart = 0;
    let total = 0;
    for (let index = 0; index < pieces.length; index++) {
      const piece = pieces[index] as Piece;
      const length = piece[1] - piece[0];
      if (total + length > this.chunkSize && index > windowStart) {
        this.emit(text, (pieces[windowStart] as Piece)[0], (pieces[index - 1] as Piece)[1], out);
        while (total > this.chunkOverlap || (total + length > this.chunkSize && total > 0)) {
          const first = pieces[windowStart] as Piece;
          total -= first[1] - first[0];
          windowStart++;
        }
      }
      total += length;
    }
    if (windowStart < pieces.length) {
      this.emit(text, (pieces[windowStart] as Piece)[0], (pieces[pieces.length - 1] as Piece)[1], out);
    }
  }

  /** A chunk is the trimmed text of its pieces; all-whitespace chunks are dropped. */
  private emit(text: string, start: number, end: number, out: Chunk[]): void {
    const raw = text.slice(start, end);
    const trimmedStart = raw.trimStart();
    if (!trimmedStart) return;
    out.push({ text: trimmedStart.trimEnd(), start: start + raw.length - trimmedStart.length });
  }
}
