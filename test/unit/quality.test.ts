import { describe, expect, it } from 'vitest';
import { brokenMapPdf, pdfWithContents } from '../../fuzz/hostile.js';
import { linesPage, renderedPage, scannedPdf, scanOf } from '../../fuzz/scans.js';
import { OPTION_DEFAULTS, parseOptions, type ProcessingOptions } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { laidOutPdf } from '../support/pdf.js';
import { gradePage, scriptMatch, summarise, type PageQuality } from '../../lambdas/documents/quality/grade.js';

/**
 * The page report and the reading ladder: each grade reason on text made
 * for it, then PDFs of our own making read under `quality` fast, auto and
 * best: a text layer partly mapped to private-use characters (a broken
 * ToUnicode map), a clean page, a scan.
 */
const CLEAN = 'The harbour master keeps a log of every ship that enters the port.';

describe('grading a page', () => {
  it('grades clean text good, with no reasons', () => {
    expect(gradePage({ text: CLEAN, rung: 'text_layer', layer: { chars: 55, unusable: 0 }, drawn: 0 })).toEqual({
      grade: 'good',
      reasons: [],
      rung: 'text_layer',
      characters: 55,
      garbage_ratio: 0,
    });
  });

  it('grades control, private-use and replacement characters, and (cid:N) codes, as garbage: fair from 2 %, poor from 10 %', () => {
    const fair = gradePage({ text: `${CLEAN}\uE001\uFFFD`, rung: 'text_layer' });
    expect(fair).toMatchObject({ grade: 'fair', reasons: ['garbage_ratio 0.04'] });
    const poor = gradePage({ text: `${CLEAN} (cid:12)(cid:7)`, rung: 'text_layer' });
    expect(poor.grade).toBe('poor');
    expect(poor.reasons[0]).toMatch(/^garbage_ratio 0\.2/);
    // A text layer by its own counts: unmapped glyphs it counted, though the text no longer shows them.
    const unmapped = gradePage({ text: CLEAN, rung: 'text_layer', layer: { chars: 60, unusable: 9 } });
    expect(unmapped).toMatchObject({ grade: 'poor', reasons: ['garbage_ratio 0.15'] });
  });

  it('grades a page that draws something and gives (almost) no text poor; an empty page is not graded down', () => {
    expect(gradePage({ text: 'p. 4', rung: 'text_layer', drawn: 3 })).toMatchObject({
      grade: 'poor',
      reasons: ['no_text 3 characters on a page that draws 3 objects'],
    });
    expect(gradePage({ text: '', rung: 'text_layer', drawn: 0 }).grade).toBe('good');
  });

  it('grades OCR by its confidence, its uncertain words and the script of its letters', () => {
    const ocr = (confidence: number, lowConfidenceShare = 0, text = CLEAN, languages = ['eng'] as const) =>
      gradePage({ text, rung: 'ocr', ocr: { confidence, lowConfidenceShare, languages } });
    expect(ocr(0.93)).toMatchObject({ grade: 'good', ocr_confidence: 0.93, script_match: 1 });
    expect(ocr(0.7)).toMatchObject({ grade: 'fair', reasons: ['ocr_confidence 0.7'] });
    expect(ocr(0.5)).toMatchObject({ grade: 'poor', reasons: ['ocr_confidence 0.5'] });
    expect(ocr(0.9, 0.4)).toMatchObject({ grade: 'fair', reasons: ['low_confidence_words 0.4'] });
    // Read as English, the page came out in another script: the wrong ocr_languages (or mojibake).
    expect(ocr(0.9, 0, 'Лоцманы поднимаются на борт у внешнего буя')).toMatchObject({
      grade: 'poor',
      reasons: ['script_match 0'],
    });
    expect(scriptMatch('港口 harbour', ['chi_sim'])).toBeCloseTo(2 / 9);
    expect(scriptMatch('港口 harbour', ['eng', 'chi_sim'])).toBe(1);
  });

  it('sums the pages up: by grade, by rung, the poor ones listed, poor when a tenth of the pages are', () => {
    const page = (grade: PageQuality['grade'], rung: PageQuality['rung'] = 'text_layer') => ({
      grade,
      reasons: [],
      rung,
      characters: 1,
      garbage_ratio: 0,
    });
    const pages = [page('good'), page('good'), page('poor', 'ocr'), page('fair')].map((quality, index) => ({
      page: index + 1,
      quality,
    }));
    expect(summarise(pages)).toEqual({
      grade: 'poor',
      pages: { good: 2, fair: 1, poor: 1 },
      rungs: { text_layer: 3, ocr: 1 },
      poor_pages: [3],
    });
    expect(summarise([])).toBeUndefined();
  });
});

const LINES = ['Pilots board ships at the outer buoy', 'Tugs wait inside the breakwater'];
const BROKEN = 'Moorings are let by the year';

const read = (bytes: Buffer, options: Partial<ProcessingOptions> = {}) =>
  processDocument({ bytes: new Uint8Array(bytes), filename: 'page.pdf' }, { ...OPTION_DEFAULTS, ...options });

const qualityOf = (result: Awaited<ReturnType<typeof read>>, index = 0) =>
  result.documents[index]?.metadata.quality as PageQuality;

describe('the reading ladder', () => {
  it('keeps a partly garbled text layer under fast, graded poor with its reason', async () => {
    const fast = await read(brokenMapPdf(LINES, BROKEN), { quality: 'fast' });
    expect(qualityOf(fast)).toMatchObject({ grade: 'poor', rung: 'text_layer' });
    expect(qualityOf(fast).reasons[0]).toMatch(/^garbage_ratio /);
    expect(fast.documents[0]?.metadata.ocr).toBeUndefined();
    expect(fast.quality).toMatchObject({ grade: 'poor', pages: { poor: 1 }, poor_pages: [1] });
  });

  it('reads it again by OCR under auto (the default), and keeps the better reading', async () => {
    const auto = await read(brokenMapPdf(LINES, BROKEN));
    expect(qualityOf(auto)).toMatchObject({ grade: 'good', rung: 'ocr', tried: ['text_layer poor', 'ocr good'] });
    const text = auto.documents[0]!.page_content;
    expect(text).toContain('Moorings are let by the year');
    expect(text).not.toMatch(/\p{Co}/u);
    expect(auto.quality).toMatchObject({ grade: 'good', rungs: { ocr: 1 } });
  });

  it('never recognises a clean text page under auto; under best, every page is read at the top rung too, the text layer kept at a tie', async () => {
    const clean = pdfWithContents([linesPage(LINES)]);
    const auto = await read(clean);
    expect(qualityOf(auto)).toEqual({
      grade: 'good',
      reasons: [],
      rung: 'text_layer',
      characters: expect.any(Number) as number,
      garbage_ratio: 0,
    });
    expect(auto.documents[0]?.metadata.ocr).toBeUndefined();
    const best = await read(clean, { quality: 'best' });
    expect(qualityOf(best)).toMatchObject({ rung: 'text_layer', tried: ['text_layer good', 'ocr_hires good'] });
    expect(best.documents[0]?.metadata.ocr).toBeUndefined();
    expect(best.documents[0]?.page_content).toBe(auto.documents[0]?.page_content);
    // A garbled layer under best: the top rung's reading, at once.
    const garbled = await read(brokenMapPdf(LINES, BROKEN), { quality: 'best' });
    expect(qualityOf(garbled)).toMatchObject({
      grade: 'good',
      rung: 'ocr_hires',
      tried: ['text_layer poor', 'ocr_hires good'],
    });
  });

  it('reads a scan OCR reads poorly at 200 dpi again at the top rung (300 dpi, binarised) under auto', async () => {
    // 3-point type scanned at 400 dpi: too small for the first rung, large enough for the top one.
    const tiny = ['Pilots board ships at the outer buoy when the tide turns', 'Tugs wait inside the breakwater'];
    const content = Buffer.from(`BT /F1 3 Tf 72 720 Td 4.5 TL ${tiny.map((line) => `(${line}) Tj T*`).join(' ')} ET\n`);
    const scan = scannedPdf([await renderedPage(pdfWithContents([content]), 0, 400)], { dpi: 400 });
    const fast = await read(scan, { quality: 'fast' });
    expect(qualityOf(fast)).toMatchObject({ grade: 'poor', rung: 'ocr', tried: ['text_layer poor', 'ocr poor'] });
    const auto = await read(scan);
    expect(qualityOf(auto)).toMatchObject({
      grade: 'good',
      rung: 'ocr_hires',
      tried: ['text_layer poor', 'ocr poor', 'ocr_hires good'],
    });
    expect(auto.documents[0]?.page_content).toContain('Pilots board ships');
    expect(auto.quality?.rungs).toEqual({ ocr_hires: 1 });
  });

  it('grades a text layer the same in Markdown, where a ruled table leaves few characters on its lines, and never recognises it', async () => {
    // A page that is only a ruled table: its lines' text is the table's, not the page's characters.
    const xs = [72, 192, 312];
    const ys = [700, 680, 660, 640];
    const rules = [
      ...ys.map((y) => ({ x0: xs[0]!, y0: y, x1: xs[2]!, y1: y })),
      ...xs.map((x) => ({ x0: x, y0: ys[3]!, x1: x, y1: ys[0]! })),
    ];
    const cells = [
      ['Berth', 'Length'],
      ['North quay', '240 metres'],
      ['South quay', '180 metres'],
    ].flatMap((row, r) => row.map((text, c) => ({ text, x: xs[c]! + 4, y: ys[r + 1]! + 6 })));
    const bytes = laidOutPdf([{ texts: cells, rules }]);
    const text = await read(bytes);
    const markdown = await read(bytes, { output_format: 'markdown' });
    expect(qualityOf(markdown)).toEqual(qualityOf(text));
    expect(qualityOf(markdown)).toMatchObject({ grade: 'good', rung: 'text_layer' });
    expect(markdown.documents[0]?.page_content).toContain('| North quay | 240 metres |');
  });

  it('climbs no rung with ocr=off, whatever the grade', async () => {
    const off = await read(brokenMapPdf(LINES, BROKEN), { ocr: 'off', quality: 'best' });
    expect(qualityOf(off)).toMatchObject({ grade: 'poor', rung: 'text_layer' });
    expect(qualityOf(off).tried).toBeUndefined();
  });

  it('reports a scanned page that gives no text as poor, though it makes no document', async () => {
    const blank = { width: 400, height: 400, pixels: new Uint8Array(400 * 400).fill(255) };
    const scan = scannedPdf([await scanOf(LINES), blank]);
    const result = await read(scan);
    expect(result.documents).toHaveLength(1);
    expect(result.quality).toMatchObject({ pages: { good: 1, poor: 1 }, poor_pages: [2] });
  });

  it('takes quality as an option: fast, auto or best, stored only when given, and nothing else', () => {
    expect(parseOptions({ quality: 'fast' })).toMatchObject({ quality: 'fast' });
    expect(parseOptions({})).not.toHaveProperty('quality');
    expect(() => parseOptions({ quality: 'perfect' })).toThrow(/quality/);
  });
});
