/**
 * Page furniture: running headers, running footers and page numbers, the
 * lines a paged document repeats at its edges. They are found across the
 * pages read, by where each line stands and what it says, and left out of
 * the pages' content (each page's document lists them in
 * `metadata.furniture`). Pure functions of the lines.
 *
 * A line is furniture when it stands in a page's top or bottom band, set
 * apart from the body (a gap wider than a line's spacing between it, with
 * any lines nearer the edge, and the rest of the page: the last lines of a
 * paragraph that runs down to the bottom margin are body text), no larger
 * than the body text, and either
 * - it is a page number ("12", "- 12 -", "Page 3 of 10", "iv") and the
 *   outermost line of its band, or
 * - the same words (digits aside: "Chapter 2 · 14" and "Chapter 2 · 15"
 *   are one header) stand in the same band, at about the same height, on at
 *   least three of the pages read (two, when at most five are read).
 */

export interface PlacedLine {
  text: string;
  /** Height above the page's bottom, in points; NaN when unknown (the line is then never furniture). */
  y: number;
  /** Font size in points, when known (0: unknown). */
  size: number;
}

export interface FurniturePage {
  lines: readonly PlacedLine[];
  /** The page's height in the coordinates of the lines' `y`. */
  height: number;
}

/** The share of the page's height, from the top and from the bottom, where furniture stands. */
const EDGE_BAND = 0.12;
/** Lines at heights this close (a share of the page's height) are at the same place. */
const SAME_PLACE = 0.025;
/** Furniture is never much larger than the body text. */
const MAX_SIZE_RATIO = 1.1;
const MAX_FURNITURE_CHARS = 160;
/** Lines further apart than this (in sizes of the larger one) are not of one block: the usual spacing is about 1.2. */
const APART = 1.6;
/** The size assumed for a line whose size is not known. */
const DEFAULT_SIZE = 10;

/**
 * The lines (indexes) nearest each edge, down to the first gap wider than a
 * line's spacing, when that gap lies inside the band: the page's edge blocks.
 */
const edgeBlocksOf = (page: FurniturePage): Set<number> => {
  const placed = page.lines
    .map((line, index) => ({ index, y: line.y, size: line.size > 0 ? line.size : DEFAULT_SIZE }))
    .filter((line) => Number.isFinite(line.y) && page.lines[line.index]?.text.trim())
    .sort((a, b) => b.y - a.y);
  const edge = new Set<number>();
  const walk = (ordered: typeof placed, inBand: (y: number) => boolean) => {
    const block: number[] = [];
    for (let at = 0; at < ordered.length; at++) {
      const line = ordered[at] as (typeof placed)[number];
      if (!inBand(line.y)) return;
      block.push(line.index);
      const next = ordered[at + 1];
      if (!next || Math.abs(line.y - next.y) > APART * Math.max(line.size, next.size)) {
        for (const index of block) edge.add(index);
        block.length = 0;
      }
    }
  };
  walk(placed, (y) => y >= page.height * (1 - EDGE_BAND));
  walk([...placed].reverse(), (y) => y <= page.height * EDGE_BAND);
  return edge;
};

const PAGE_NUMBER =
  /^(?:(?:page|p\.|pg\.?|seite|página|pagina|strona|стр\.?)\s*)?[-–—(‹«[]?\s*#\s*(?:(?:of|\/|de|von|из|sur)\s*#)?\s*[-–—)›»\]]?$/u;
const ROMAN = /^[ivxlcdm]{1,7}$/;

/** The words of a line with every run of digits as `#`: how a running header is recognised from page to page. */
export const furnitureKey = (text: string): string =>
  text.toLowerCase().replace(/\s+/g, ' ').trim().replace(/\d+/g, '#');

const isPageNumber = (key: string): boolean => PAGE_NUMBER.test(key) || ROMAN.test(key);

type Band = 'top' | 'bottom';

const bandOf = (line: PlacedLine, height: number): Band | undefined => {
  if (!Number.isFinite(line.y) || height <= 0) return undefined;
  if (line.y >= height * (1 - EDGE_BAND)) return 'top';
  if (line.y <= height * EDGE_BAND) return 'bottom';
  return undefined;
};

const bodySizeOf = (pages: readonly FurniturePage[]): number => {
  const counts = new Map<number, number>();
  for (const page of pages) {
    for (const line of page.lines) {
      if (line.size > 0)
        counts.set(Math.round(line.size * 2) / 2, (counts.get(Math.round(line.size * 2) / 2) ?? 0) + 1);
    }
  }
  let best = 0;
  for (const [size, count] of counts) if (count > (counts.get(best) ?? 0)) best = size;
  return best;
};

interface Candidate {
  page: number;
  line: number;
  band: Band;
  key: string;
  /** Height as a share of the page's. */
  place: number;
  outermost: boolean;
}

/** For each page, the indexes of its furniture lines. */
export const findFurniture = (pages: readonly FurniturePage[]): Array<Set<number>> => {
  const bodySize = bodySizeOf(pages);
  const candidates: Candidate[] = [];
  pages.forEach((page, pageIndex) => {
    const edge = edgeBlocksOf(page);
    const inBand = page.lines.flatMap((line, index) => {
      const band = edge.has(index) ? bandOf(line, page.height) : undefined;
      const text = line.text.trim();
      if (!band || !text || text.length > MAX_FURNITURE_CHARS) return [];
      if (bodySize > 0 && line.size > bodySize * MAX_SIZE_RATIO) return [];
      return [{ index, band, line, place: line.y / page.height }];
    });
    const top = Math.max(...inBand.filter((entry) => entry.band === 'top').map((entry) => entry.place));
    const bottom = Math.min(...inBand.filter((entry) => entry.band === 'bottom').map((entry) => entry.place));
    for (const entry of inBand) {
      candidates.push({
        page: pageIndex,
        line: entry.index,
        band: entry.band,
        key: furnitureKey(entry.line.text),
        place: entry.place,
        outermost: entry.place === (entry.band === 'top' ? top : bottom),
      });
    }
  });
  const minPages = pages.length <= 5 ? 2 : 3;
  const byKey = new Map<string, Candidate[]>();
  for (const candidate of candidates) {
    const key = `${candidate.band} ${candidate.key}`;
    const list = byKey.get(key);
    if (list) list.push(candidate);
    else byKey.set(key, [candidate]);
  }
  const furniture = pages.map(() => new Set<number>());
  for (const list of byKey.values()) {
    const places = list.map((candidate) => candidate.place).sort((a, b) => a - b);
    const middle = places[Math.floor(places.length / 2)] as number;
    const atPlace = list.filter((candidate) => Math.abs(candidate.place - middle) <= SAME_PLACE);
    const repeated = new Set(atPlace.map((candidate) => candidate.page)).size >= minPages && pages.length >= 2;
    for (const candidate of list) {
      const number = isPageNumber(candidate.key) && candidate.outermost;
      if (number || (repeated && atPlace.includes(candidate))) furniture[candidate.page]?.add(candidate.line);
    }
  }
  // Furniture frames a page's content: a page with nothing else keeps its lines (a divider page's "Part 2").
  return furniture.map((lines, index) => {
    const page = pages[index] as FurniturePage;
    const content = page.lines.some((line, at) => !lines.has(at) && line.text.trim());
    return content ? lines : new Set<number>();
  });
};
