import { describe, expect, it } from 'vitest';
import { OPTION_DEFAULTS, type ProcessingOptions } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { findFurniture, furnitureKey, type FurniturePage } from '../../lambdas/documents/pdf/furniture.js';
import { laidOutPdf, paragraph, type PageSpec } from '../support/pdf.js';

const HEIGHT = 792;
const line = (text: string, y: number, size = 10) => ({ text, y, size });
const body = (top: number, count: number) =>
  Array.from({ length: count }, (_, index) => line(`body line ${index} of the text`, top - index * 12));

describe('page furniture (pure)', () => {
  it('finds a running header whose numbers change, and page numbers, on the pages they frame', () => {
    const pages: FurniturePage[] = [1, 2, 3, 4].map((number) => ({
      height: HEIGHT,
      lines: [line(`Chapter 2 · ${number + 10}`, 760), ...body(700, 20), line(`- ${number} -`, 30)],
    }));
    const found = findFurniture(pages);
    expect(found.map((lines) => [...lines].sort((a, b) => a - b))).toEqual(pages.map(() => [0, 21]));
    expect(furnitureKey('Chapter 2 · 14')).toBe(furnitureKey('chapter 2  ·  15'));
  });

  it('keeps the last lines of a paragraph that runs into the bottom band, even when pages repeat them', () => {
    const pages: FurniturePage[] = [1, 2, 3].map(() => ({ height: HEIGHT, lines: body(400, 33) }));
    // The paragraph reaches y = 16: its last lines stand in the band, but one block with the body above.
    expect(findFurniture(pages).every((lines) => lines.size === 0)).toBe(true);
  });

  it('keeps a large title repeated at the top of slides, a page of nothing but its number, and lines seen once', () => {
    const slides: FurniturePage[] = [1, 2, 3].map(() => ({
      height: HEIGHT,
      lines: [line('Results', 760, 28), ...body(600, 5)],
    }));
    expect(findFurniture(slides).every((lines) => lines.size === 0)).toBe(true);
    const alone: FurniturePage[] = [{ height: HEIGHT, lines: [line('7', 30)] }];
    expect(findFurniture(alone)[0]?.size).toBe(0);
    const once: FurniturePage[] = [1, 2, 3].map((number) => ({
      height: HEIGHT,
      lines: [line(`A heading only page ${number === 2 ? 'two' : 'one'} has`, 760), ...body(700, 5)],
    }));
    expect(findFurniture(once)[1]?.size).toBe(0);
  });
});

const report = (): Buffer => {
  const pages: PageSpec[] = [1, 2, 3, 4].map((number) => ({
    texts: [
      { text: 'Harbour Authority Annual Report', x: 72, y: 760, size: 8 },
      ...paragraph(
        [
          `Section ${number} begins here with the findings of the quarter.`,
          'The cranes moved more containers than in any quarter before.',
        ],
        700,
      ),
      { text: `Page ${number} of 4`, x: 280, y: 30, size: 8 },
    ],
  }));
  return laidOutPdf(pages);
};

const read = (options: Partial<ProcessingOptions> = {}) =>
  processDocument({ bytes: report(), filename: 'report.pdf' }, { ...OPTION_DEFAULTS, ...options });

describe('page furniture in PDF results', () => {
  it.each(['text', 'markdown'] as const)(
    'leaves running headers and page numbers out of page_content, and lists them in metadata (%s)',
    async (format) => {
      const result = await read({ output_format: format });
      expect(result.documents).toHaveLength(4);
      result.documents.forEach((document, index) => {
        expect(document.page_content).toContain(`Section ${index + 1} begins here`);
        expect(document.page_content).not.toContain('Harbour Authority');
        expect(document.page_content).not.toContain('of 4');
        expect(document.metadata.furniture).toEqual(['Harbour Authority Annual Report', `Page ${index + 1} of 4`]);
      });
    },
  );

  it('leaves no furniture in any chunk when the pages are split', async () => {
    const result = await read({ split: true, chunk_size: 80, chunk_overlap: 0 });
    expect(result.documents.length).toBeGreaterThan(4);
    for (const chunk of result.documents) expect(chunk.page_content).not.toMatch(/Harbour Authority|Page \d of 4/);
  });
});

describe('characters of the text layer', () => {
  it('maps symbol-font bullets to bullets and drops control characters a font maps glyphs to', async () => {
    const { charOf } = await import('../../lambdas/documents/pdf/page-text.js');
    expect(charOf(0xf0b7)).toBe('•');
    expect(charOf(0xf0a7)).toBe('▪');
    expect([0x84, 0x9f, 0x07].map(charOf)).toEqual(['', '', '']);
    expect([0x0a, 0x41, 0x4e2d].map(charOf)).toEqual(['\n', 'A', '中']);
  });
});
