import { AppError } from '../../errors.js';
import type { Document, PageBox } from '../document.js';
import { imageHeaderOf, type ImageHeader } from '../ocr/image-header.js';
import { DEFAULT_OCR, ocrLinesOf, recognise, textOfOcrLines, type OcrLine } from '../ocr/recognise.js';
import type { OcrImage } from '../ocr/tesseract.js';
import { gradePage, type PageQuality } from '../quality/grade.js';
import { FanOutRequired, planParts } from '../fan-out.js';
import { pdfWarnings, planPages } from './page-facts.js';
import { baseMetadata, type Loaded, type Loader, type LoadInput } from './types.js';

/**
 * Images as documents (PNG, JPEG, WebP, TIFF): their text is what OCR reads,
 * one document per image, or per page of a multi-page TIFF. The header is
 * read first, and an image that declares more pixels than `maxImagePixels`
 * (a decompression bomb: a 100,000 × 100,000 PNG is 30 bytes of header) is
 * refused before anything is decoded. PNG, JPEG and WebP are decoded by the
 * OCR engine's own image library; TIFF pages by `utif2`, one page at a time.
 * With `ocr=off` an image gives no text (the result warns NO_TEXT). A TIFF
 * reads the pages `pages` selects, as a PDF does (an image is page 1), and a
 * long one is read in parts like a long scanned PDF (fan-out.ts).
 */

const tooLarge = (header: { width: number; height: number }, limit: number, what: string): AppError =>
  new AppError(
    'DOCUMENT_TOO_LARGE',
    `${what} is ${header.width} × ${header.height} pixels; the limit is ${limit} pixels (maxImagePixels).`,
  );

/** Grey pixels from RGBA ones (BT.601 luma; transparent pixels over white). */
const grayOfRgba = (rgba: Uint8Array, width: number, height: number): Uint8Array => {
  const gray = new Uint8Array(width * height);
  for (let index = 0, at = 0; index < gray.length; index++, at += 4) {
    const alpha = rgba[at + 3] as number;
    const luma = ((rgba[at] as number) * 77 + (rgba[at + 1] as number) * 150 + (rgba[at + 2] as number) * 29) >> 8;
    gray[index] = (luma * alpha + 255 * (255 - alpha)) / 255;
  }
  return gray;
};

/** The images to recognise, one per page, decoded lazily (a TIFF page only when its turn comes, its size checked first). */
const pagesOf = async (bytes: Uint8Array, header: ImageHeader, input: LoadInput): Promise<Array<() => OcrImage>> => {
  if (header.format !== 'tiff') return [() => ({ kind: 'encoded', bytes })];
  const UTIF = (await import('utif2')).default;
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const pages = UTIF.decode(buffer);
  if (pages.length > input.limits.maxPages) {
    throw new AppError(
      'DOCUMENT_TOO_LARGE',
      `The TIFF has ${pages.length} pages; the limit is ${input.limits.maxPages}.`,
    );
  }
  // Every page's declared size before the first is decoded: a lying later page costs no OCR of the ones before.
  pages.forEach((page, index) => {
    const width = Number((page.t256 as number[] | undefined)?.[0] ?? 0);
    const height = Number((page.t257 as number[] | undefined)?.[0] ?? 0);
    if (width * height > input.limits.maxImagePixels) {
      throw tooLarge({ width, height }, input.limits.maxImagePixels, `Page ${index + 1} of the TIFF`);
    }
  });
  return pages.map((page, index) => () => {
    UTIF.decodeImage(buffer, page);
    if (!page.width || !page.height)
      throw new AppError('DOCUMENT_PARSE_ERROR', `Page ${index + 1} of the TIFF could not be decoded.`);
    const rgba = UTIF.toRGBA8(page);
    return { kind: 'gray', width: page.width, height: page.height, pixels: grayOfRgba(rgba, page.width, page.height) };
  });
};

const sizeOf = (image: OcrImage, header: ImageHeader) =>
  image.kind === 'gray' ? { width: image.width, height: image.height } : { width: header.width, height: header.height };

/** Each line's box in the image's pixels, with its characters' range in the text (as `textOfOcrLines` joins them). */
const imageBoxes = (lines: readonly OcrLine[], page: number): PageBox[] => {
  let start = 0;
  return lines.map((line, index) => {
    if (index > 0) start += line.opens ? 2 : 1;
    const [x0, y0, x1, y1] = line.box;
    const box = { page, x0, y0, x1, y1, start, end: start + line.text.length };
    start += line.text.length;
    return box;
  });
};

export const loadImage: Loader = async (input): Promise<Loaded> => {
  await input.checkpoint();
  const header = imageHeaderOf(input.bytes);
  if (!header) throw new AppError('DOCUMENT_PARSE_ERROR', 'The image is damaged: its header could not be read.');
  if (header.width * header.height > input.limits.maxImagePixels) {
    throw tooLarge(header, input.limits.maxImagePixels, 'The image');
  }
  const ocr = input.ocr ?? DEFAULT_OCR;
  const pages = await pagesOf(input.bytes, header, input);
  if (ocr.mode === 'off') return { documents: [], pages: pages.length };
  const noun = header.format === 'tiff' ? 'TIFF' : 'image';
  const chosen = planPages(input.pages, pages.length).present.flatMap(({ first, last }) =>
    Array.from({ length: last - first + 1 }, (_, offset) => first + offset),
  );
  // Many pages to recognise: read in parts by the page workers, as a long scanned PDF is.
  if (input.fanOut && chosen.length >= input.fanOut.minOcrPages) {
    const plan = planParts(chosen, new Set(chosen), input.fanOut.pagesPerPart, pages.length);
    if (plan.parts.length > 1) throw new FanOutRequired(plan);
  }
  const documents: Document[] = [];
  const confidences: Array<{ page: number; confidence: number }> = [];
  const graded: Array<{ page: number; quality: PageQuality }> = [];
  for (const [done, page] of chosen.entries()) {
    await input.checkpoint();
    const index = page - 1;
    const picture = (pages[index] as () => OcrImage)();
    const read = await recognise(ocr.languages, picture);
    confidences.push({ page, confidence: read.confidence });
    input.onProgress?.((done + 1) / chosen.length);
    const lines = ocrLinesOf(read, sizeOf(picture, header));
    const text = textOfOcrLines(lines);
    // An image draws its picture: one that gives no text is graded as a page not read.
    const quality = gradePage({
      text,
      rung: 'ocr',
      drawn: 1,
      ocr: { confidence: read.confidence, lowConfidenceShare: read.lowConfidenceShare, languages: ocr.languages },
    });
    graded.push({ page, quality });
    if (!text) continue;
    documents.push({
      page_content: text,
      metadata: {
        ...baseMetadata(input),
        page,
        total_pages: pages.length,
        ocr: true,
        ocr_confidence: Math.round(read.confidence * 100) / 100,
        quality,
        // An image's boxes are in its pixels (its top left the origin): it has no points.
        ...(input.includeBoxes ? { boxes: imageBoxes(lines, page) } : {}),
      },
    });
  }
  const facts = { pictures: 0, recognised: confidences, quality: graded };
  const warnings = pdfWarnings(facts, input.pages, pages.length, noun);
  return {
    documents,
    pages: pages.length,
    facts,
    ...(warnings.length ? { warnings } : {}),
  };
};
