import { describe, expect, it } from 'vitest';
import { OPTION_DEFAULTS } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { pdfOf } from '../../fuzz/hostile.js';

/**
 * Arabic PDFs draw lam-alef as one ligature glyph, its ToUnicode map giving
 * both letters as written (lam, alef); on a right-to-left line PDFium hands
 * them over as drawn, alef then lam, so "سلام" reads "سالم". The two letters
 * of one glyph share its origin, which tells them from an alef and a lam
 * drawn apart ("ال", the article), left as they are.
 */
const CMAP = Buffer.from(
  [
    '/CIDInit /ProcSet findresource begin 12 dict begin begincmap',
    '/CMapName /Arabic def',
    '1 begincodespacerange <00> <FF> endcodespacerange',
    '6 beginbfchar',
    // The ligature glyph: lam, alef.
    '<61> <06440627>',
    '<73> <0633>',
    '<6D> <0645>',
    '<65> <0627>',
    '<6F> <0644>',
    '<20> <0020>',
    'endbfchar',
    'endcmap CMapName currentdict /CMap defineresource pop end end',
  ].join('\n'),
);

/** Glyphs placed from right to left, as an Arabic line is drawn, one word after another. */
const arabicPdf = (words: readonly string[]): Buffer => {
  let x = 400;
  const shows: string[] = [];
  for (const word of words) {
    for (const glyph of word) {
      shows.push(`1 0 0 1 ${x} 700 Tm (${glyph}) Tj`);
      // Less than a glyph's width: the letters of a word touch.
      x -= 8;
    }
    x -= 16;
  }
  const content = Buffer.from(`BT /F1 18 Tf ${shows.join(' ')} ET`);
  return pdfOf([
    Buffer.from('<< /Type /Catalog /Pages 2 0 R >>'),
    Buffer.from('<< /Type /Pages /Kids [3 0 R] /Count 1 >>'),
    Buffer.from(
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    ),
    Buffer.concat([Buffer.from(`<< /Length ${content.length} >>\nstream\n`), content, Buffer.from('\nendstream')]),
    Buffer.from('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>'),
    Buffer.concat([Buffer.from(`<< /Length ${CMAP.length} >>\nstream\n`), CMAP, Buffer.from('\nendstream')]),
  ]);
};

describe('Arabic lam-alef ligatures in PDF text layers', () => {
  it.each(['text', 'markdown'] as const)('reads a ligature mapped as drawn in written order (%s)', async (format) => {
    // s + the lam-alef glyph + m: "سلام"; then e o m, an alef and a lam drawn apart: "الم".
    const result = await processDocument(
      { bytes: arabicPdf(['sam', 'eom']), filename: 'arabic.pdf' },
      { ...OPTION_DEFAULTS, output_format: format, ocr: 'off' },
    );
    const text = result.documents.map((document) => document.page_content).join('\n');
    expect(text).toContain('سلام');
    expect(text).not.toContain('سالم');
    expect(text).toContain('الم');
  });
});
