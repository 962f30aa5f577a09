import { AppError } from '../../errors.js';
import type { PdfiumDocument } from './pdfium.js';

/**
 * A page rendered to 8-bit grey pixels (what OCR reads), at `dpi` or less:
 * a page so large that it would pass `maxPixels` is rendered at the
 * resolution that fits (a poster-sized page still reads; a hostile
 * MediaBox cannot ask for gigapixels).
 */
export interface GrayPage {
  width: number;
  height: number;
  pixels: Uint8Array;
  /** The resolution rendered at, and the page's size in points, to map pixels back to page coordinates. */
  dpi: number;
  widthPt: number;
  heightPt: number;
}

/** FPDF_ANNOT: draw annotations (form fields, stamps) as a reader sees them; FPDF_PRINTING: print quality. */
const RENDER_FLAGS = 0x01 | 0x800;
const WHITE = 0xffffffff;

export const renderPageGray = (document: PdfiumDocument, index: number, dpi: number, maxPixels: number): GrayPage =>
  document.withPage(index, (page) => {
    const { api } = document.engine;
    const widthPt = api.FPDF_GetPageWidthF(page);
    const heightPt = api.FPDF_GetPageHeightF(page);
    if (!(widthPt > 0 && heightPt > 0)) {
      throw new AppError('DOCUMENT_PARSE_ERROR', `Page ${index + 1} of the PDF has no size.`);
    }
    const wanted = (widthPt / 72) * dpi * ((heightPt / 72) * dpi);
    const scaledDpi = wanted > maxPixels ? dpi * Math.sqrt(maxPixels / wanted) : dpi;
    const width = Math.max(1, Math.floor((widthPt / 72) * scaledDpi));
    const height = Math.max(1, Math.floor((heightPt / 72) * scaledDpi));
    const bitmap = api.FPDFBitmap_Create(width, height, 0);
    if (!bitmap) throw new AppError('DOCUMENT_TOO_LARGE', `Page ${index + 1} of the PDF is too large to render.`);
    try {
      api.FPDFBitmap_FillRect(bitmap, 0, 0, width, height, WHITE);
      api.FPDF_RenderPageBitmap(bitmap, page, 0, 0, width, height, 0, RENDER_FLAGS);
      const stride = api.FPDFBitmap_GetStride(bitmap);
      const buffer = api.FPDFBitmap_GetBuffer(bitmap);
      const bgra = document.engine.bytes();
      const pixels = new Uint8Array(width * height);
      for (let y = 0; y < height; y++) {
        let at = buffer + y * stride;
        const row = y * width;
        for (let x = 0; x < width; x++, at += 4) {
          // ITU-R BT.601 luma in integers: (29 B + 150 G + 77 R) / 256.
          pixels[row + x] =
            ((bgra[at] as number) * 29 + (bgra[at + 1] as number) * 150 + (bgra[at + 2] as number) * 77) >> 8;
        }
      }
      return { width, height, pixels, dpi: scaledDpi, widthPt, heightPt };
    } finally {
      api.FPDFBitmap_Destroy(bitmap);
    }
  });
