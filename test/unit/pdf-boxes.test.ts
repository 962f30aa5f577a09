import { describe, expect, it } from 'vitest';
import type { Document, PageBox } from '../../lambdas/documents/document.js';
import { OPTION_DEFAULTS, type ProcessingOptions } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { pngOf, scannedPdf, scanOf, turned } from '../../fuzz/scans.js';
import { laidOutPdf, paragraph } from '../support/pdf.js';

const PAGE_HEIGHT = 792;

const read = (bytes: Buffer, options: Partial<ProcessingOptions> = {}, filename = 'boxes.pdf') =>
  processDocument({ bytes, filename }, { ...OPTION_DEFAULTS, include_boxes: true, ...options });

const boxesOf = (document: Document | undefined): PageBox[] => (document?.metadata.boxes ?? []) as PageBox[];

/** Each box with the text it covers. */
const covered = (document: Document | undefined) =>
  boxesOf(document).map((box) => ({ ...box, text: document?.page_content.slice(box.start, box.end) }));

/** Two paragraphs at known places: 10-point Helvetica, baselines at 700, 688 and 640. */
const twoParagraphs = () =>
  laidOutPdf([
    {
      texts: [
        ...paragraph(['The harbour handled more containers', 'than in any quarter before.'], 700),
        ...paragraph(['Night shifts were added in March.'], 640, 100),
      ],
    },
  ]);

describe('boxes of PDF text (include_boxes)', () => {
  it('gives each line its box in points from the top left, and the characters it holds', async () => {
    const [page] = (await read(twoParagraphs())).documents;
    const boxes = covered(page);
    expect(boxes.map((box) => box.text)).toEqual([
      'The harbour handled more containers',
      'than in any quarter before.',
      'Night shifts were added in March.',
    ]);
    const [first, , third] = boxes;
    // Baseline 700 is 92 points from the top: the line's glyphs stand just above it.
    expect(first).toMatchObject({ page: 1 });
    // Glyph boxes start a side bearing right of the origin.
    expect(Math.abs(first!.x0 - 72)).toBeLessThan(2);
    expect(first!.y1).toBeGreaterThan(PAGE_HEIGHT - 700 - 1);
    expect(first!.y1).toBeLessThan(PAGE_HEIGHT - 700 + 4);
    expect(first!.y0).toBeGreaterThan(PAGE_HEIGHT - 700 - 12);
    expect(first!.x1).toBeGreaterThan(first!.x0 + 100);
    expect(Math.abs(third!.x0 - 100)).toBeLessThan(2);
    expect(third!.y0).toBeGreaterThan(first!.y1 + 40);
  });

  it('gives the boxes of a block to its Markdown, and leaves metadata alone without the option', async () => {
    const [page] = (await read(twoParagraphs(), { output_format: 'markdown' })).documents;
    const boxes = covered(page);
    expect(boxes).toHaveLength(3);
    expect(new Set(boxes.slice(0, 2).map((box) => box.text))).toEqual(
      new Set(['The harbour handled more containers than in any quarter before.']),
    );
    expect(boxes[2]?.text).toBe('Night shifts were added in March.');
    const plain = await processDocument({ bytes: twoParagraphs(), filename: 'boxes.pdf' }, OPTION_DEFAULTS);
    expect(plain.documents[0]?.metadata.boxes).toBeUndefined();
  });

  it('gives each chunk the boxes of the lines it holds, their ranges in the chunk', async () => {
    const chunks = (await read(twoParagraphs(), { split: true, chunk_size: 70, chunk_overlap: 0 })).documents;
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) {
      const boxes = covered(chunk);
      expect(boxes.length).toBeGreaterThan(0);
      for (const box of boxes) expect(chunk.page_content).toContain(box.text as string);
    }
    expect(Math.abs((boxesOf(chunks.at(-1))[0]?.x0 ?? 0) - 100)).toBeLessThan(2);
  });
});

describe('boxes of recognised text', () => {
  const lines = Array.from({ length: 8 }, (_, index) => `Line ${index} of the quick brown fox jumps over the dog`);

  it('boxes a scanned page in its points, where the text is', async () => {
    const scan = await scanOf(lines);
    const [page] = (await read(scannedPdf([scan]), { ocr: 'force' })).documents;
    const first = covered(page)[0];
    expect(first?.text).toBe(lines[0]);
    // The scan's text starts at x = 72 points, its first baseline 72 points from the top (fuzz/scans.ts).
    expect(first!.x0).toBeGreaterThan(66);
    expect(first!.x0).toBeLessThan(80);
    expect(first!.y1).toBeGreaterThan(64);
    expect(first!.y1).toBeLessThan(80);
  });

  it('boxes an image in its pixels, where the text stands in the image as given, even when OCR turned it to read it', async () => {
    const scan = await scanOf(lines);
    const upright = covered((await read(pngOf(scan), {}, 'scan.png')).documents[0])[0];
    const quarter = covered((await read(pngOf(turned(scan)), {}, 'turned.png')).documents[0])[0];
    expect(upright?.text).toBe(lines[0]);
    expect(quarter?.text).toBe(lines[0]);
    // A quarter turn clockwise puts (x, y) at (height - y, x): the first line now runs down the right side.
    expect(quarter!.x0).toBeCloseTo(scan.height - upright!.y1, -1);
    expect(quarter!.y0).toBeCloseTo(upright!.x0, -1);
    expect(quarter!.y1 - quarter!.y0).toBeGreaterThan(quarter!.x1 - quarter!.x0);
  });
});
