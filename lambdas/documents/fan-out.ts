import { formatPageSelection, type PageSelection } from './options.js';

/**
 * Page fan-out: a document with many pages to recognise is not read by one
 * invocation. The reader stops once it knows which pages need OCR (after the
 * text layer, which is fast) and answers with a plan: page ranges, each with
 * about `pagesPerPart` pages to recognise. Each range is then read on its
 * own (as the same document with `pages` set to the range) and the parts are
 * put together in page order (see `finishResult` in process-document.ts).
 */
export interface FanOutSettings {
  /** A document with at least this many pages to recognise is fanned out. */
  minOcrPages: number;
  /** Pages to recognise per part (the last part may have fewer; pages with a text layer ride along). */
  pagesPerPart: number;
}

export interface FanOutPlan {
  /** Each part's pages, as the `pages` option writes them ("17-24"). */
  parts: string[];
  /** Pages to recognise, over all parts. */
  ocrPages: number;
  /** Pages recognised in each part, in part order. */
  ocrPagesPerPart: number[];
  totalPages: number;
}

/** Thrown by the reader (never a failure): the document is to be read in parts. */
export class FanOutRequired extends Error {
  constructor(readonly plan: FanOutPlan) {
    super(`The document has ${plan.ocrPages} pages to recognise: read in ${plan.parts.length} parts.`);
    this.name = 'FanOutRequired';
  }
}

/** Consecutive page numbers as a selection: 1, 2, 3, 7 → 1-3, 7. */
const selectionOf = (pages: readonly number[]): PageSelection => {
  const ranges: { first: number; last: number }[] = [];
  for (const page of pages) {
    const last = ranges.at(-1);
    if (last && last.last === page - 1) last.last = page;
    else ranges.push({ first: page, last: page });
  }
  return ranges;
};

/**
 * The parts of a document whose pages to read are `pages` (in order) and of
 * which `ocr` need recognition: cut after every `pagesPerPart` pages to
 * recognise; pages with a text layer go with the part they fall in, those
 * after the last page to recognise with the last part.
 */
export const planParts = (
  pages: readonly number[],
  ocr: ReadonlySet<number>,
  pagesPerPart: number,
  totalPages: number,
): FanOutPlan => {
  const perPart = Math.max(1, Math.floor(pagesPerPart));
  const parts: number[][] = [];
  const counts: number[] = [];
  let current: number[] = [];
  let recognised = 0;
  for (const page of pages) {
    current.push(page);
    if (ocr.has(page)) recognised++;
    if (recognised === perPart) {
      parts.push(current);
      counts.push(recognised);
      current = [];
      recognised = 0;
    }
  }
  if (current.length) {
    if (recognised === 0 && parts.length) (parts.at(-1) as number[]).push(...current);
    else {
      parts.push(current);
      counts.push(recognised);
    }
  }
  return {
    parts: parts.map((part) => formatPageSelection(selectionOf(part))),
    ocrPages: counts.reduce((sum, count) => sum + count, 0),
    ocrPagesPerPart: counts,
    totalPages,
  };
};
