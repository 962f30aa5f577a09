import { ocrLinesOf, recognise, textOfOcrLines } from '../ocr/recognise.js';
import type { OcrLanguage } from '../ocr/languages.js';
import type { FigureCollector } from './figures.js';
import { AppError } from '../../errors.js';

/** Most figures recognised per document (`figures=ocr`); the rest keep no text, and the warning says so. */
export const MAX_RECOGNISED_FIGURES = 100;

/** Figures smaller than this on their shorter side hold no text worth reading (a logo, an icon). */
const MIN_RECOGNISED_SIDE = 48;

/**
 * `figures=ocr`: the text inside each stored figure (chart labels, a
 * diagram's words, a screenshot), recognised by the OCR engine in the
 * document's OCR languages, as the figure's `text`. Returns how many
 * figures were past the bound, and how many could not be decoded: both keep no text.
 */
export const recogniseFigures = async (
  collector: FigureCollector,
  languages: readonly OcrLanguage[],
  checkpoint: () => Promise<void>,
): Promise<{ unread: number; failed: number }> => {
  const images = new Map(collector.stored().map((image) => [image.id, image]));
  const candidates = collector
    .figures()
    .filter(
      (figure) => images.has(figure.id) && Math.min(figure.width ?? 0, figure.height ?? 0) >= MIN_RECOGNISED_SIDE,
    );
  let failed = 0;
  for (const figure of candidates.slice(0, MAX_RECOGNISED_FIGURES)) {
    await checkpoint();
    const image = images.get(figure.id);
    if (!image || figure.width === undefined || figure.height === undefined) continue;
    try {
      const read = await recognise(languages, { kind: 'encoded', bytes: image.bytes });
      const text = textOfOcrLines(ocrLinesOf(read, { width: figure.width, height: figure.height })).trim();
      if (text) figure.text = text;
    } catch (error) {
      // A picture the engine cannot decode (a damaged body behind a good header, an abort in its decoder) keeps no
      // text; the document is read. Only the engine failing to start is the task's.
      if (error instanceof AppError && error.code === 'INTERNAL_ERROR') throw error;
      failed++;
    }
  }
  return { unread: Math.max(0, candidates.length - MAX_RECOGNISED_FIGURES), failed };
};
