import type { OcrLanguage } from '../ocr/languages.js';

/**
 * How well a page was read, graded from what the reading itself shows: no
 * ground truth, only the signs every RAG team learns to fear (control and
 * private-use characters, `(cid:N)` glyph codes, unmapped glyphs, a page
 * that draws a lot and yields no text, OCR that is unsure of itself, text in
 * another script than the page's languages). Cheap: one pass over the
 * page's text.
 */
export type Grade = 'good' | 'fair' | 'poor';

/**
 * The rungs of the reading ladder, cheapest first: the text layer, OCR at
 * `ocrDpi` (200), OCR at `ocrHighDpi` (300) of a binarised render.
 */
export const RUNGS = ['text_layer', 'ocr', 'ocr_hires'] as const;
export type Rung = (typeof RUNGS)[number];

/** `fast`: text layer, OCR only where there is none. `auto`: poor pages climb one rung at a time. `best`: every page read at the top rung. */
export const QUALITY_MODES = ['fast', 'auto', 'best'] as const;
export type QualityMode = (typeof QUALITY_MODES)[number];
export const DEFAULT_QUALITY: QualityMode = 'auto';

/** The report of one page: `metadata.quality`. */
export interface PageQuality {
  grade: Grade;
  /** Why it is not `good` (`garbage_ratio 0.31`, `ocr_confidence 0.52`, …); empty when it is. */
  reasons: string[];
  /** The rung whose reading the page kept. */
  rung: Rung;
  characters: number;
  /** Share of its characters no reader can use: controls, private use, U+FFFD, unmapped glyphs, `(cid:N)` codes. */
  garbage_ratio: number;
  /** OCR pages: mean word confidence (0–1), the share of words below 60 %, the share of letters in the scripts of `ocr_languages`. */
  ocr_confidence?: number;
  low_confidence_words?: number;
  script_match?: number;
  /** The rungs tried, in order, when more than one was (each with the grade it got). */
  tried?: string[];
}

/** What a page's grade is made of. */
export interface PageFacts {
  text: string;
  rung: Rung;
  /**
   * The text layer's own count of characters (spaces aside) and of unusable ones (controls, private use,
   * U+FFFD, glyphs PDFium could not map): a text layer is graded by these, not by `text`.
   */
  layer?: { chars: number; unusable: number } | undefined;
  /** Objects the page draws besides text (images, paths): a page that draws and yields no text was not read. */
  drawn?: number | undefined;
  ocr?: { confidence: number; lowConfidenceShare: number; languages: readonly OcrLanguage[] } | undefined;
}

/** Fewer characters than this on a page that draws something is a page not read. */
const MIN_CHARACTERS = 16;

const THRESHOLDS = {
  garbage: { poor: 0.1, fair: 0.02 },
  confidence: { poor: 0.6, fair: 0.8 },
  uncertainWords: { fair: 0.3 },
  script: { poor: 0.5, fair: 0.8 },
} as const;

const UNUSABLE = /[\p{Cc}\p{Co}\uFFFD]/u;
const CID_CODES = /\(cid:\d+\)/g;

/** Characters not white space, and of them those no reader can use (`(cid:N)` counted as its characters). */
const countGarbage = (text: string): { characters: number; garbage: number } => {
  let characters = 0;
  let garbage = 0;
  for (const char of text) {
    if (char === '\n' || char === '\t' || char === '\r' || char === ' ') continue;
    characters++;
    if (UNUSABLE.test(char)) garbage++;
  }
  for (const match of text.matchAll(CID_CODES)) garbage += match[0].length;
  return { characters, garbage };
};

/** The scripts each OCR language is written in. */
const SCRIPTS: Record<OcrLanguage, RegExp> = {
  eng: /\p{Script=Latin}/u,
  deu: /\p{Script=Latin}/u,
  fra: /\p{Script=Latin}/u,
  spa: /\p{Script=Latin}/u,
  chi_sim: /\p{Script=Han}/u,
  chi_tra: /\p{Script=Han}/u,
  jpn: /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u,
  kor: /[\p{Script=Hangul}\p{Script=Han}]/u,
};

/** Share of the letters that are in the scripts of `languages` (1 when there are no letters). */
export const scriptMatch = (text: string, languages: readonly OcrLanguage[]): number => {
  const scripts = languages.map((language) => SCRIPTS[language]);
  let letters = 0;
  let matching = 0;
  for (const char of text) {
    if (!/\p{L}/u.test(char)) continue;
    letters++;
    if (scripts.some((script) => script.test(char))) matching++;
  }
  return letters ? matching / letters : 1;
};

const round2 = (value: number): number => Math.round(value * 100) / 100;

export const GRADE_RANK: Record<Grade, number> = { poor: 0, fair: 1, good: 2 };

/** The page's grade and its reasons. */
export const gradePage = (facts: PageFacts): PageQuality => {
  // A text layer is judged by its own counts, the same whatever the output format makes of its text
  // (Markdown's tables and headings are not the page's characters); any other reading by its text.
  const counted = facts.layer
    ? { characters: facts.layer.chars, garbage: facts.layer.unusable }
    : countGarbage(facts.text);
  const garbageRatio = counted.characters ? counted.garbage / counted.characters : 0;
  const reasons: Array<[Grade, string]> = [];
  if (counted.characters < MIN_CHARACTERS && (facts.drawn ?? 0) > 0) {
    reasons.push(['poor', `no_text ${counted.characters} characters on a page that draws ${facts.drawn ?? 0} objects`]);
  }
  if (garbageRatio >= THRESHOLDS.garbage.poor) reasons.push(['poor', `garbage_ratio ${round2(garbageRatio)}`]);
  else if (garbageRatio >= THRESHOLDS.garbage.fair) reasons.push(['fair', `garbage_ratio ${round2(garbageRatio)}`]);
  let script: number | undefined;
  if (facts.ocr) {
    const { confidence, lowConfidenceShare } = facts.ocr;
    if (counted.characters) {
      if (confidence < THRESHOLDS.confidence.poor) reasons.push(['poor', `ocr_confidence ${round2(confidence)}`]);
      else if (confidence < THRESHOLDS.confidence.fair) reasons.push(['fair', `ocr_confidence ${round2(confidence)}`]);
      if (lowConfidenceShare > THRESHOLDS.uncertainWords.fair) {
        reasons.push(['fair', `low_confidence_words ${round2(lowConfidenceShare)}`]);
      }
    }
    script = scriptMatch(facts.text, facts.ocr.languages);
    if (script < THRESHOLDS.script.poor) reasons.push(['poor', `script_match ${round2(script)}`]);
    else if (script < THRESHOLDS.script.fair) reasons.push(['fair', `script_match ${round2(script)}`]);
  }
  const grade: Grade = reasons.some(([level]) => level === 'poor') ? 'poor' : reasons.length ? 'fair' : 'good';
  return {
    grade,
    reasons: reasons.map(([, reason]) => reason),
    rung: facts.rung,
    characters: counted.characters,
    garbage_ratio: round2(garbageRatio),
    ...(facts.ocr
      ? {
          ocr_confidence: round2(facts.ocr.confidence),
          low_confidence_words: round2(facts.ocr.lowConfidenceShare),
          script_match: round2(script ?? 1),
        }
      : {}),
  };
};

/** Whether `next` is a better reading than `kept`: a higher grade; at the same grade, never (the cheaper one stays). */
export const betterThan = (next: PageQuality, kept: PageQuality): boolean =>
  GRADE_RANK[next.grade] > GRADE_RANK[kept.grade];

/** The task's summary (`result.quality`): pages by grade and by rung, and the poor ones. */
export interface QualitySummary {
  grade: Grade;
  pages: Record<Grade, number>;
  rungs: Partial<Record<Rung, number>>;
  /** Pages graded poor (at most 100 listed). */
  poor_pages: number[];
}

const MAX_LISTED = 100;

/** Worst grade present among most pages: `poor` when a tenth or more are poor, `fair` when a tenth or more are below good. */
export const summarise = (pages: ReadonlyArray<{ page: number; quality: PageQuality }>): QualitySummary | undefined => {
  if (!pages.length) return undefined;
  const counts: Record<Grade, number> = { good: 0, fair: 0, poor: 0 };
  const rungs: Partial<Record<Rung, number>> = {};
  for (const { quality } of pages) {
    counts[quality.grade]++;
    rungs[quality.rung] = (rungs[quality.rung] ?? 0) + 1;
  }
  const share = (count: number) => count / pages.length;
  const grade: Grade = share(counts.poor) >= 0.1 ? 'poor' : share(counts.poor + counts.fair) >= 0.1 ? 'fair' : 'good';
  return {
    grade,
    pages: counts,
    rungs,
    poor_pages: pages
      .filter(({ quality }) => quality.grade === 'poor')
      .map(({ page }) => page)
      .slice(0, MAX_LISTED),
  };
};
