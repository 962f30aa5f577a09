import type { ResultWarning } from '../document.js';
import { lowConfidenceWarning } from '../ocr/recognise.js';
import { formatPageSelection, type PageSelection } from '../options.js';
import { notReadWarnings, type PageFacts } from './types.js';

/** The pages to read: the selection (all pages without one) within the file, and the selected pages it lacks. */
export const planPages = (selection: PageSelection | undefined, total: number) => {
  const wanted = selection ?? [{ first: 1, last: total }];
  return {
    present: wanted
      .filter(({ first }) => first <= total)
      .map(({ first, last }) => ({ first, last: Math.min(last, total) })),
    missing: wanted
      .filter(({ last }) => last > total)
      .map(({ first, last }) => ({ first: Math.max(first, total + 1), last })),
  };
};

/** "The PDF has 12 pages; pages 13-20 do not exist." */
const outOfRange = (missing: PageSelection, total: number, noun: string): ResultWarning => {
  const single = missing.length === 1 && missing[0]?.first === missing[0]?.last;
  const pages = `${single ? 'page' : 'pages'} ${formatPageSelection(missing)} ${single ? 'does' : 'do'}`;
  return {
    code: 'PAGES_OUT_OF_RANGE',
    message: `The ${noun} has ${total} page${total === 1 ? '' : 's'}; ${pages} not exist.`,
  };
};

/** The codes `pdfWarnings` makes: a document read in parts has them made again from its parts' facts. */
export const FACT_WARNINGS: ReadonlySet<ResultWarning['code']> = new Set([
  'PAGES_OUT_OF_RANGE',
  'CONTENT_NOT_READ',
  'OCR_LOW_CONFIDENCE',
]);

/**
 * A paged document's warnings (a PDF's, a TIFF's): selected pages it does not
 * have, pictures left out, pages recognised with low confidence.
 */
export const pdfWarnings = (
  facts: PageFacts,
  selection: PageSelection | undefined,
  total: number,
  noun = 'PDF',
): ResultWarning[] => {
  const { missing } = planPages(selection, total);
  return [
    ...(missing.length ? [outOfRange(missing, total, noun)] : []),
    ...notReadWarnings({ pictures: facts.pictures }, noun),
    ...lowConfidenceWarning([...facts.recognised].sort((a, b) => a.page - b.page)),
  ];
};
