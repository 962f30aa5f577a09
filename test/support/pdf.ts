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

/** A picture drawn at (x, y) (its bottom left), `width` × `height` points: a JPEG as is, or RGB pixels. */
export interface PlacedImage {
  x: number;
  y: number;
  width: number;
  height: number;
  image: { jpeg: Buffer; pixels: [number, number] } | { rgb: Buffer; pixels: [number, number] };
  /** Drawn through a form XObject (a unit square holding the image), as some PDF writers wrap pictures. */
  inForm?: boolean;
}

export interface PageSpec {
  texts: PlacedText[];
  rules?: Rule[];
  images?: PlacedImage[];
}

const escapePdf = (text: string) => text.replace(/\\/g, '\\\\').replace(/\(/g, '\\(').replace(/\)/g, '\\)');

const contentOf = (page: PageSpec): Buffer =>
  Buffer.from(
    [
      ...(page.rules ?? []).map((rule) => `0.5 w ${rule.x0} ${rule.y0} m ${rule.x1} ${rule.y1} l S`),
      ...(page.images ?? []).map(
        (image, index) => `q ${image.width} 0 0 ${image.height} ${image.x} ${image.y} cm /Im${index} Do Q`,
      ),
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
  // Images after every page's two objects, in page order.
  let nextImageId = 6 + pages.length * 2;
  // A picture in a form takes two objects: the form, then its image.
  const imageIds = pages.map((page) =>
    (page.images ?? []).map((image) => {
      const id = nextImageId;
      nextImageId += image.inForm ? 2 : 1;
      return id;
    }),
  );
  pages.forEach((page, index) => {
    const streamId = (pageIds[index] as number) + 1;
    const xObjects = (imageIds[index] ?? []).map((id, at) => `/Im${at} ${id} 0 R`).join(' ');
    objects.push(
      Buffer.from(
        `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${streamId} 0 R /Resources << /Font << /F1 3 0 R /F2 4 0 R /F3 5 0 R >>${xObjects ? ` /XObject << ${xObjects} >>` : ''} >> >>`,
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
  for (const page of pages) {
    for (const { image, inForm } of page.images ?? []) {
      if (inForm) {
        const content = Buffer.from('q 1 0 0 1 0 0 cm /Inner Do Q');
        const imageId = objects.length + 2;
        objects.push(
          Buffer.concat([
            Buffer.from(
              `<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Resources << /XObject << /Inner ${imageId} 0 R >> >> /Length ${content.length} >>\nstream\n`,
            ),
            content,
            Buffer.from('\nendstream'),
          ]),
        );
      }
      const [width, height] = image.pixels;
      const data = 'jpeg' in image ? image.jpeg : deflateSync(image.rgb);
      const filter = 'jpeg' in image ? '/DCTDecode' : '/FlateDecode';
      objects.push(
        Buffer.concat([
          Buffer.from(
            `<< /Type /XObject /Subtype /Image /Width ${width} /Height ${height} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter ${filter} /Length ${data.length} >>\nstream\n`,
          ),
          data,
          Buffer.from('\nendstream'),
        ]),
      );
    }
  }
  return pdfOf(objects);
};

/** Body lines of a paragraph from `top` down, 10 points on 12. */
export const paragraph = (lines: readonly string[], top: number, x = 72): PlacedText[] =>
  lines.map((text, index) => ({ text, x, y: top - index * 12 }));
