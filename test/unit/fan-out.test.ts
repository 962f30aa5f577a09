import { beforeAll, describe, expect, it } from 'vitest';
import { FanOutRequired, planParts } from '../../lambdas/documents/fan-out.js';
import {
  finishResult,
  processDocument,
  readDocument,
  sourceSummaryOf,
  type ReadPart,
} from '../../lambdas/documents/process-document.js';
import { OPTION_DEFAULTS, type ProcessingOptions } from '../../lambdas/documents/options.js';
import { scannedPdf, scanOf } from '../../fuzz/scans.js';

/**
 * Page fan-out, the reading side: the plan of parts, and a document read in
 * parts and put together giving what it gives read at once.
 */
const PAGES = [
  ['Harbour traffic in the spring', 'Ferries ran on every weekday'],
  ['Cargo volumes by quarter', 'Containers rose by a tenth'],
  ['Passenger numbers held steady', 'Cruise calls fell in April'],
];
const TEXT_PAGE = 'A page with a text layer of its own';

let mixed: Buffer;
beforeAll(async () => {
  const scans = await Promise.all(PAGES.map((lines) => scanOf(lines)));
  // Scan, text page, scan, scan: the text page rides along with a part.
  mixed = scannedPdf([scans[0]!, TEXT_PAGE, scans[1]!, scans[2]!]);
});

const input = () => ({ bytes: new Uint8Array(mixed), filename: 'harbour.pdf' });

describe('the plan of parts', () => {
  it('cuts after every pagesPerPart pages to recognise; text pages go with their part, trailing ones with the last', () => {
    const plan = planParts([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], new Set([2, 3, 5, 6, 7, 9]), 2, 10);
    expect(plan).toEqual({
      parts: ['1-3', '4-6', '7-10'],
      ocrPages: 6,
      ocrPagesPerPart: [2, 2, 2],
      totalPages: 10,
    });
  });

  it('keeps a selection with gaps as the pages it names, and a last part with fewer pages', () => {
    const plan = planParts([1, 2, 5, 6], new Set([1, 2, 5, 6]), 3, 40);
    expect(plan.parts).toEqual(['1-2,5', '6']);
    expect(plan.ocrPagesPerPart).toEqual([3, 1]);
  });
});

describe('reading in parts', () => {
  it('stops after the text layer with the plan, once there are minOcrPages pages to recognise', async () => {
    const fanOut = { minOcrPages: 2, pagesPerPart: 2 };
    const error = await processDocument(input(), OPTION_DEFAULTS, { fanOut }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FanOutRequired);
    expect((error as FanOutRequired).plan).toEqual({
      parts: ['1-3', '4'],
      ocrPages: 3,
      ocrPagesPerPart: [2, 1],
      totalPages: 4,
    });
    // Below the threshold the document is read at once, as without fan-out.
    const whole = await processDocument(input(), OPTION_DEFAULTS, { fanOut: { minOcrPages: 4, pagesPerPart: 2 } });
    expect(whole.document_count).toBe(4);
  });

  it('puts the parts together as the document read at once: documents, chunk ids, warnings and stats', async () => {
    const options: ProcessingOptions = {
      ...OPTION_DEFAULTS,
      split: true,
      chunk_size: 40,
      chunk_overlap: 0,
      chunk_strategy: 'recursive',
    };
    const whole = await processDocument(input(), options);
    const parts: ReadPart[] = [];
    for (const pages of ['1-3', '4']) parts.push(await readDocument(input(), { ...options, pages }));
    expect(parts.map((part) => part.documents.map((document) => document.metadata.page))).toEqual([[1, 2, 3], [4]]);
    const assembled = await finishResult(sourceSummaryOf(input()), parts, options);
    expect(assembled).toEqual(whole);
    expect(whole.documents.some((document) => typeof document.metadata.chunk_id === 'string')).toBe(true);
  });

  it("warns once for the whole document: pages past its end, and every part's pictures counted together", async () => {
    const options: ProcessingOptions = { ...OPTION_DEFAULTS, pages: '1-6', ocr: 'off' };
    const whole = await processDocument(input(), options);
    const parts = [
      await readDocument(input(), { ...options, pages: '1-2' }),
      await readDocument(input(), { ...options, pages: '3-4' }),
    ];
    const assembled = await finishResult(sourceSummaryOf(input()), parts, options);
    expect(assembled.warnings).toEqual(whole.warnings);
    expect(whole.warnings.map((warning) => warning.code)).toEqual(['PAGES_OUT_OF_RANGE', 'CONTENT_NOT_READ']);
    expect(whole.warnings[1]?.message).toContain('3 pictures');
  });
});
