import { describe, expect, it } from 'vitest';
import { linesPage, pngOf, scannedPdf, scanOf, renderedPage, skewed, tiffOf, turned } from '../../fuzz/scans.js';
import { pdfWithContents } from '../../fuzz/hostile.js';
import { detectFormat } from '../../lambdas/documents/detect.js';
import { imageHeaderOf } from '../../lambdas/documents/ocr/image-header.js';
import { parseOcrLanguages } from '../../lambdas/documents/ocr/languages.js';
import { needsOcr } from '../../lambdas/documents/ocr/recognise.js';
import { OPTION_DEFAULTS, parseOptions, type ProcessingOptions } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { FanOutRequired } from '../../lambdas/documents/fan-out.js';
import { readCorpus } from '../support/corpus.js';
import { failureOf } from '../support/failures.js';

const LINES = ['The quick brown fox jumps', 'over the lazy dog near', 'the riverbank at noon'];
const WORDS = LINES.join(' ').split(' ');

const run = (bytes: Uint8Array, filename: string, options: Partial<ProcessingOptions> = {}) =>
  processDocument({ bytes, filename }, { ...OPTION_DEFAULTS, ...options });

/** Share of the expected words found in the text, in order or not. */
const recall = (text: string, words: readonly string[]): number => {
  const found = new Set(text.toLowerCase().split(/[^\p{L}\p{N}]+/u));
  return words.filter((word) => found.has(word.toLowerCase())).length / words.length;
};

describe('OCR of PDF pages', () => {
  it('reads a scanned page (no text layer) under the default ocr=auto, with its confidence', async () => {
    const pdf = scannedPdf([await scanOf(LINES)]);
    const result = await run(pdf, 'scan.pdf');
    expect(result.documents).toHaveLength(1);
    const [document] = result.documents;
    expect(recall(document!.page_content, WORDS)).toBeGreaterThanOrEqual(0.9);
    expect(document!.metadata).toMatchObject({ page: 1, total_pages: 1, ocr: true });
    expect(document!.metadata.ocr_confidence).toBeGreaterThan(0.8);
    expect(result.warnings).toEqual([]);
  });

  it('recognises only the scanned pages of a mixed PDF; text pages keep their text layer', async () => {
    const pdf = scannedPdf(['A page with a real text layer', await scanOf(LINES)]);
    const result = await run(pdf, 'mixed.pdf');
    expect(result.documents.map((document) => [document.metadata.page, document.metadata.ocr])).toEqual([
      [1, undefined],
      [2, true],
    ]);
    expect(result.documents[0]?.page_content).toBe('A page with a real text layer');
    expect(recall(result.documents[1]!.page_content, WORDS)).toBeGreaterThanOrEqual(0.9);
  });

  it('turns a scan that lies on its side upright before reading it', async () => {
    const pdf = scannedPdf([turned(await scanOf(LINES))]);
    const [document] = (await run(pdf, 'turned.pdf')).documents;
    expect(recall(document!.page_content, WORDS)).toBeGreaterThanOrEqual(0.9);
  });

  it('straightens a page scanned askew (7°: read as it lies, its lines run together) before reading it', async () => {
    const lines = ['Straighten this page before', 'reading its lines of text', 'so that none run together'];
    const pdf = scannedPdf([skewed(await scanOf(lines), 7)]);
    const [document] = (await run(pdf, 'askew.pdf')).documents;
    expect(recall(document!.page_content, lines.join(' ').split(' '))).toBeGreaterThanOrEqual(0.9);
  });

  it('warns OCR_LOW_CONFIDENCE, naming the page, when a scan reads poorly', async () => {
    const noise = await scanOf(LINES);
    let seed = 7;
    for (let index = 0; index < noise.pixels.length; index++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      if (seed % 3 === 0) noise.pixels[index] = 255 - (noise.pixels[index] as number);
    }
    const result = await run(scannedPdf(['A clean text page', noise]), 'noisy.pdf');
    const warning = result.warnings.find((entry) => entry.code === 'OCR_LOW_CONFIDENCE');
    expect(warning?.message).toMatch(/OCR read page 2 \(\d+ %\) with low confidence/);
  });

  it('reads no page with ocr=off (the result warns of the picture left out, and NO_TEXT) and every page with ocr=force', async () => {
    const scan = scannedPdf([await scanOf(LINES)]);
    const off = await run(scan, 'scan.pdf', { ocr: 'off' });
    expect(off.documents).toEqual([]);
    expect(off.warnings.map((warning) => warning.code)).toEqual(['CONTENT_NOT_READ', 'NO_TEXT']);
    expect(off.warnings[0]?.message).toBe(
      'The PDF holds 1 picture that was not read: any text it holds is not in the result.',
    );
    expect(off.warnings[1]?.message).toBe(
      'The PDF has no text layer, and ocr=off: scanned pages were not recognised (ocr=auto reads them).',
    );
    const text = pdfWithContents([linesPage(LINES)]);
    const forced = await run(text, 'text.pdf', { ocr: 'force' });
    expect(forced.documents[0]?.metadata.ocr).toBe(true);
    expect(recall(forced.documents[0]!.page_content, WORDS)).toBeGreaterThanOrEqual(0.9);
    const auto = await run(text, 'text.pdf');
    expect(auto.documents[0]?.metadata.ocr).toBeUndefined();
  });

  it('reads a Chinese scan with ocr_languages=chi_sim', async () => {
    const source = readCorpus('zh/zh-memo.pdf');
    const truth = (await run(source, 'zh.pdf')).documents[0]!.page_content;
    const pdf = scannedPdf([await renderedPage(source, 0, 200)]);
    const [document] = (await run(pdf, 'zh-scan.pdf', { ocr_languages: 'chi_sim' })).documents;
    const han = (text: string) => [...text].filter((char) => /\p{Script=Han}/u.test(char));
    const expected = han(truth);
    const seen = new Set(han(document!.page_content));
    expect(expected.filter((char) => seen.has(char)).length / expected.length).toBeGreaterThanOrEqual(0.8);
  });

  it('makes Markdown of a scanned page from the recognised lines', async () => {
    const pdf = scannedPdf([await scanOf(LINES)]);
    const [document] = (await run(pdf, 'scan.pdf', { output_format: 'markdown' })).documents;
    expect(recall(document!.page_content, WORDS)).toBeGreaterThanOrEqual(0.9);
  });

  it('renders an absurdly large page at a resolution within maxOcrPixels', async () => {
    const pdf = scannedPdf([await scanOf(LINES)]);
    const result = await processDocument({ bytes: pdf, filename: 'scan.pdf' }, OPTION_DEFAULTS, {
      limits: { maxOcrPixels: 1_000_000, ocrDpi: 2000 },
    });
    expect(result.documents).toHaveLength(1);
  });
});

describe('the ocr rule', () => {
  const layer = (chars: number, unusable: number, drawn: number) => ({ chars, unusable, drawn });

  it('recognises a page without usable text that draws something, never an empty one', () => {
    expect(needsOcr('auto', layer(0, 0, 1))).toBe(true);
    expect(needsOcr('auto', layer(400, 300, 1))).toBe(true); // mostly unmapped glyphs
    expect(needsOcr('auto', layer(400, 0, 5))).toBe(false);
    expect(needsOcr('auto', layer(0, 0, 0))).toBe(false);
    expect(needsOcr('force', layer(400, 0, 0))).toBe(true);
    expect(needsOcr('off', layer(0, 0, 9))).toBe(false);
  });
});

describe('images as documents', () => {
  it('detects PNG, TIFF, JPEG and WebP from their bytes, whatever the name says', () => {
    expect(detectFormat(pngOf({ width: 1, height: 1, pixels: new Uint8Array([255]) }), 'x.txt')).toBe('image');
    expect(detectFormat(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]), 'x')).toBe('image');
    expect(detectFormat(Buffer.from('RIFF\u0000\u0000\u0000\u0000WEBPVP8 ', 'latin1'), 'x')).toBe('image');
    expect(detectFormat(Buffer.from([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0]), 'x')).toBe('image');
  });

  it('reads a PNG', async () => {
    const result = await run(pngOf(await scanOf(LINES)), 'page.png');
    expect(result.format).toBe('image');
    expect(result.documents[0]?.metadata).toMatchObject({ page: 1, total_pages: 1, ocr: true });
    expect(recall(result.documents[0]!.page_content, WORDS)).toBeGreaterThanOrEqual(0.9);
  });

  it('reads a multi-page TIFF as a document per page', async () => {
    const tiff = tiffOf([await scanOf(['First page of the fax']), await scanOf(['Second page follows here'])]);
    const result = await run(tiff, 'fax.tiff');
    expect(result.documents.map((document) => document.metadata.page)).toEqual([1, 2]);
    expect(result.stats.pages).toBe(2);
    expect(recall(result.documents[1]!.page_content, ['Second', 'page', 'follows'])).toBe(1);
    const off = await run(tiff, 'fax.tiff', { ocr: 'off' });
    expect([off.documents.length, off.stats.pages]).toEqual([0, 2]);
  });

  it('reads the TIFF pages `pages` selects, numbered as in the file, and warns of those it lacks', async () => {
    const tiff = tiffOf([
      await scanOf(['First page of the fax']),
      await scanOf(['Second page follows here']),
      await scanOf(['Third page closes it']),
    ]);
    const second = await run(tiff, 'fax.tiff', { pages: '2' });
    expect(second.documents.map((document) => document.metadata.page)).toEqual([2]);
    expect(second.documents[0]?.metadata.total_pages).toBe(3);
    expect(recall(second.documents[0]!.page_content, ['Second', 'page', 'follows'])).toBe(1);
    const beyond = await run(tiff, 'fax.tiff', { pages: '3-5' });
    expect(beyond.documents.map((document) => document.metadata.page)).toEqual([3]);
    expect(beyond.warnings).toContainEqual({
      code: 'PAGES_OUT_OF_RANGE',
      message: 'The TIFF has 3 pages; pages 4-5 do not exist.',
    });
  });

  it('stops a long TIFF with the plan of its parts, as a long scanned PDF (page fan-out)', async () => {
    const tiff = tiffOf([await scanOf(['One']), await scanOf(['Two']), await scanOf(['Three'])]);
    const error = await processDocument({ bytes: tiff, filename: 'long.tiff' }, OPTION_DEFAULTS, {
      fanOut: { minOcrPages: 2, pagesPerPart: 2 },
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FanOutRequired);
    expect((error as FanOutRequired).plan).toEqual({
      parts: ['1-2', '3'],
      ocrPages: 3,
      ocrPagesPerPart: [2, 1],
      totalPages: 3,
    });
  });

  it('refuses a decompression bomb from its header, before decoding (a 100,000 × 100,000 PNG)', async () => {
    const bomb = pngOf({ width: 1, height: 1, pixels: new Uint8Array([0]) }, { width: 100_000, height: 100_000 });
    expect(imageHeaderOf(bomb)).toEqual({ format: 'png', width: 100_000, height: 100_000 });
    const error = await failureOf(run(bomb, 'bomb.png'));
    expect(error.code).toBe('DOCUMENT_TOO_LARGE');
    expect(error.message).toContain('100000 × 100000');
  });

  it('refuses a TIFF whose later page lies about its size before recognising any page', async () => {
    const small = { width: 8, height: 8, pixels: new Uint8Array(64).fill(255) };
    const tiff = tiffOf([small, small], { page: 1, width: 90_000, height: 90_000 });
    const progress: number[] = [];
    const error = await failureOf(
      processDocument({ bytes: tiff, filename: 'lying.tiff' }, OPTION_DEFAULTS, {
        onProgress: (update) => progress.push(update.progress),
      }),
    );
    expect(error.code).toBe('DOCUMENT_TOO_LARGE');
    expect(error.message).toContain('Page 2');
    // Page 1 was never read: parsing never moved past its start.
    expect(Math.max(...progress)).toBe(10);
  });

  it('reports a truncated image as damaged', async () => {
    const error = await failureOf(run(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), 'cut.png'));
    expect(error.code).toBe('DOCUMENT_PARSE_ERROR');
  });
});

describe('OCR options', () => {
  it('takes ocr and ocr_languages, canonical, and refuses an unknown language naming the supported ones', () => {
    expect(parseOptions({ ocr: 'FORCE', ocr_languages: 'eng, chi_sim' })).toMatchObject({
      ocr: 'force',
      ocr_languages: 'eng+chi_sim',
    });
    expect(parseOptions({ ocr_languages: ['deu', 'fra', 'deu'] }).ocr_languages).toBe('deu+fra');
    expect(parseOptions({})).not.toHaveProperty('ocr');
    expect(() => parseOptions({ ocr_languages: 'klingon' })).toThrow(
      /unknown OCR language "klingon"; supported: eng, chi_sim, chi_tra, jpn, kor, deu, fra, spa/,
    );
    expect(() => parseOptions({ ocr: 'maybe' })).toThrow(/expected one of: auto, force, off/);
    expect(parseOcrLanguages('eng+deu+fra+spa')).toMatch(/at most 3/);
  });
});
