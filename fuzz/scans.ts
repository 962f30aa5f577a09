import { deflateSync } from 'node:zlib';
import { PdfiumDocument } from '../lambdas/documents/pdf/pdfium.js';
import { renderPageGray } from '../lambdas/documents/pdf/render.js';
import { pageSaying, pdfOf, pdfWithContents } from './hostile.js';

/**
 * Scans of our own making, for the OCR tests and the fuzzer: text typeset
 * into a PDF, rendered by the engine into grey pixels, then wrapped as a
 * PNG, a TIFF or an image-only PDF, turned, or given a lying header. No
 * external tool, no copied document.
 */
export interface Gray {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** A page of large Helvetica lines (18 pt, 24 pt apart) from the top left. */
export const linesPage = (lines: readonly string[]): Buffer =>
  Buffer.from(
    `BT /F1 18 Tf 72 720 Td 24 TL ${lines.map((line) => `(${line.replace(/[()\\]/g, '\\$&')}) Tj T*`).join(' ')} ET\n`,
  );

/** A text PDF's page rendered to grey pixels, as a scanner at `dpi` would see it. */
export const renderedPage = async (pdf: Uint8Array, page = 0, dpi = 200): Promise<Gray> => {
  const document = await PdfiumDocument.open(pdf, 256 * 1024 * 1024);
  try {
    const { width, height, pixels } = renderPageGray(document, page, dpi, 40_000_000);
    return { width, height, pixels };
  } finally {
    document.close();
  }
};

/** The pixels of lines of text, scanned. */
export const scanOf = (lines: readonly string[], dpi = 200): Promise<Gray> =>
  renderedPage(pdfWithContents([linesPage(lines)]), 0, dpi);

/** A quarter turn clockwise. */
export const turned = ({ width, height, pixels }: Gray): Gray => {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out[x * height + (height - 1 - y)] = pixels[y * width + x] as number;
  }
  return { width: height, height: width, pixels: out };
};

/** Turned by a few degrees about its centre (nearest pixel, white outside): a page fed in askew. */
export const skewed = ({ width, height, pixels }: Gray, degrees: number): Gray => {
  const out = new Uint8Array(width * height).fill(255);
  const [cos, sin] = [Math.cos((degrees * Math.PI) / 180), Math.sin((degrees * Math.PI) / 180)];
  const [cx, cy] = [width / 2, height / 2];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = Math.round(cos * (x - cx) + sin * (y - cy) + cx);
      const sy = Math.round(-sin * (x - cx) + cos * (y - cy) + cy);
      if (sx >= 0 && sx < width && sy >= 0 && sy < height) out[y * width + x] = pixels[sy * width + sx] as number;
    }
  }
  return { width, height, pixels: out };
};

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (data: Buffer): number => {
  let c = 0xffffffff;
  for (const byte of data) c = (CRC_TABLE[(c ^ byte) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type: string, data: Buffer): Buffer => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
};

/** An 8-bit greyscale PNG; `claim` overrides the size its header declares (a bomb's lie). */
export const pngOf = ({ width, height, pixels }: Gray, claim?: { width: number; height: number }): Buffer => {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(claim?.width ?? width, 0);
  header.writeUInt32BE(claim?.height ?? height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const rows = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) rows.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
};

/** A baseline TIFF (little-endian, uncompressed 8-bit grey), one directory per page; `claim` lies about a page's size. */
export const tiffOf = (pages: readonly Gray[], claim?: { page: number; width: number; height: number }): Buffer => {
  const parts: Buffer[] = [Buffer.from([0x49, 0x49, 0x2a, 0x00, 0, 0, 0, 0])];
  let offset = 8;
  const directoryAt: number[] = [];
  const dataAt: number[] = [];
  for (const page of pages) {
    dataAt.push(offset);
    parts.push(Buffer.from(page.pixels));
    offset += page.pixels.length;
  }
  pages.forEach((page, index) => {
    const lie = claim?.page === index ? claim : undefined;
    const entries: Array<[number, number, number]> = [
      [256, 4, lie?.width ?? page.width],
      [257, 4, lie?.height ?? page.height],
      [258, 3, 8],
      [259, 3, 1],
      [262, 3, 1],
      [273, 4, dataAt[index] as number],
      [277, 3, 1],
      [278, 4, page.height],
      [279, 4, page.pixels.length],
    ];
    const directory = Buffer.alloc(2 + entries.length * 12 + 4);
    directory.writeUInt16LE(entries.length, 0);
    entries.forEach(([tag, type, value], entry) => {
      const at = 2 + entry * 12;
      directory.writeUInt16LE(tag, at);
      directory.writeUInt16LE(type, at + 2);
      directory.writeUInt32LE(1, at + 4);
      if (type === 3) directory.writeUInt16LE(value, at + 8);
      else directory.writeUInt32LE(value, at + 8);
    });
    directoryAt.push(offset);
    parts.push(directory);
    offset += directory.length;
  });
  const buffer = Buffer.concat(parts);
  buffer.writeUInt32LE(directoryAt[0] as number, 4);
  directoryAt.forEach((at, index) => {
    const next = directoryAt[index + 1] ?? 0;
    buffer.writeUInt32LE(next, at + 2 + 9 * 12);
  });
  return buffer;
};

/**
 * A PDF page that only shows an image (a scan): no text layer, no font.
 * Pages given as text become text pages. `paddingBytes` adds an object no
 * page uses, so that a small scan can be a large file; `dpi`, the
 * resolution the images were scanned at (their size on the page).
 */
export const scannedPdf = (pages: ReadonlyArray<Gray | string>, { paddingBytes = 0, dpi = 200 } = {}): Buffer => {
  const objects: Buffer[] = [];
  const kids: number[] = [];
  objects.push(Buffer.from('<< /Type /Catalog /Pages 2 0 R >>'));
  objects.push(Buffer.alloc(0)); // the page tree, written once the pages are known
  objects.push(Buffer.from('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>'));
  const add = (object: Buffer): number => objects.push(object);
  const stream = (dictionary: string, data: Buffer) =>
    Buffer.concat([
      Buffer.from(`<< ${dictionary} /Length ${data.length} >>\nstream\n`),
      data,
      Buffer.from('\nendstream'),
    ]);
  for (const page of pages) {
    if (typeof page === 'string') {
      const content = add(stream('/Filter /FlateDecode', deflateSync(pageSaying(page))));
      kids.push(
        add(
          Buffer.from(
            `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${content} 0 R /Resources << /Font << /F1 3 0 R >> >> >>`,
          ),
        ),
      );
      continue;
    }
    const widthPt = (page.width * 72) / dpi;
    const heightPt = (page.height * 72) / dpi;
    const image = add(
      stream(
        `/Type /XObject /Subtype /Image /Width ${page.width} /Height ${page.height} /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode`,
        deflateSync(page.pixels),
      ),
    );
    const content = add(stream('', Buffer.from(`q ${widthPt} 0 0 ${heightPt} 0 0 cm /Im0 Do Q`)));
    kids.push(
      add(
        Buffer.from(
          `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${widthPt} ${heightPt}] /Contents ${content} 0 R /Resources << /XObject << /Im0 ${image} 0 R >> >> >>`,
        ),
      ),
    );
  }
  objects[1] = Buffer.from(
    `<< /Type /Pages /Kids [${kids.map((id) => `${id} 0 R`).join(' ')}] /Count ${kids.length} >>`,
  );
  if (paddingBytes > 0) add(stream('', Buffer.alloc(paddingBytes, 0x20)));
  return pdfOf(objects);
};
