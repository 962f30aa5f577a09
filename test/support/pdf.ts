import { deflateSync } from 'node:zlib';
import { pdfOf } from '../../fuzz/hostile.js';

/**
 * PDFs laid out line by line, for the structure tests: text at a position,
 * a size and a face (Helvetica, Helvetica-Bold, Courier), and ruling lines. The
 * page is US Letter (612 × 792 points), the origin at its bottom left.
 */

export interface PlacedText {
  text: string;
  x: number;
  /** Baseline, up from the page's bottom. */
  y: number;
  size?: number;
  bold?: boolean;
  /** Courier. */
  mono?: boolean;
}

/** A ruling line from (x0, y0) to (x1, y1). */
export interface Rule {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface PageSpec {
  texts: PlacedText[];
  rules?: Rule[];
}

const escapePdf = (text: string) => text.replace(/\\/g, '\\\\').replace(/\(/g, '\\(').replace(/\)/g, '\\)');

const contentOf = (page: PageSpec): Buffer =>
  Buffer.from(
    [
      ...(page.rules ?? []).map((rule) => `0.5 w ${rule.x0} ${rule.y0} m ${rule.x1} ${rule.y1} l S`),
      ...page.texts.map(
        (text) =>
          `BT /${text.mono ? 'F3' : text.bold ? 'F2' : 'F1'} ${text.size ?? 10} Tf 1 0 0 1 ${text.x} ${text.y} Tm (${escapePdf(text.text)}) Tj ET`,
      ),
    ].join('\n'),
  );

export const laidOutPdf = (pages: readonly PageSpec[]): Buffer => {
  const objects: Buffer[] = [];
  const pageIds = pages.map((_, index) => 6 + index * 2);
  objects.push(Buffer.from('<< /Type /Catalog /Pages 2 0 R >>'));
  objects.push(
    Buffer.from(`<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pages.length} >>`),
  );
  objects.push(Buffer.from('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>'));
  objects.push(Buffer.from('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>'));
  objects.push(Buffer.from('<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>'));
  pages.forEach((page, index) => {
    const streamId = (pageIds[index] as number) + 1;
    objects.push(
      Buffer.from(
        `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${streamId} 0 R /Resources << /Font << /F1 3 0 R /F2 4 0 R /F3 5 0 R >> >> >>`,
      ),
    );
    const deflated = deflateSync(contentOf(page));
    objects.push(
      Buffer.concat([
        Buffer.from(`<< /Length ${deflated.length} /Filter /FlateDecode >>\nstream\n`),
        deflated,
        Buffer.from('\nendstream'),
      ]),
    );
  });
  return pdfOf(objects);
};

/** Body lines of a paragraph from `top` down, 10 points on 12. */
export const paragraph = (lines: readonly string[], top: number, x = 72): PlacedText[] =>
  lines.map((text, index) => ({ text, x, y: top - index * 12 }));
