import type { PdfiumInstance } from './pdfium.js';

/**
 * The pictures a PDF page draws (option `figures`): each image object's
 * place on the page and its bytes. A JPEG (a `DCTDecode` stream and nothing
 * else) is handed over byte for byte as the PDF stores it; any other image is
 * decoded by PDFium at its own pixel size and encoded as PNG. Sizes are
 * checked on the object's word before anything is decoded: a picture too
 * small to be a figure, or declaring more pixels than a figure may have, is
 * reported with its size and no bytes, for the collector to count.
 */
export interface PdfPicture {
  /** `[left, bottom, right, top]` in page space (points, y up). */
  box: [number, number, number, number];
  width: number;
  height: number;
  bytes?: Uint8Array;
}

export interface PictureBounds {
  minSide: number;
  maxPixels: number;
}

const FPDF_PAGEOBJ_IMAGE = 3;
/** FPDFBitmap_GetFormat: grey, BGR, BGRx, BGRA. */
const BITMAP_GRAY = 1;
const BITMAP_BGR = 2;
const PNG_LEVEL = 6;

export const readPictures = (
  engine: PdfiumInstance,
  objects: readonly number[],
  bounds: PictureBounds,
): PdfPicture[] => {
  const { api } = engine;
  const scratch = api.malloc(64);
  try {
    const pictures: PdfPicture[] = [];
    for (const object of objects) {
      if (api.FPDFPageObj_GetType(object) !== FPDF_PAGEOBJ_IMAGE) continue;
      if (!api.FPDFPageObj_GetBounds(object, scratch, scratch + 4, scratch + 8, scratch + 12)) continue;
      const floats = new Float32Array(api.memory.buffer, scratch, 4);
      const box: PdfPicture['box'] = [floats[0] ?? 0, floats[1] ?? 0, floats[2] ?? 0, floats[3] ?? 0];
      if (!api.FPDFImageObj_GetImagePixelSize(object, scratch + 16, scratch + 20)) continue;
      const [width = 0, height = 0] = new Uint32Array(api.memory.buffer, scratch + 16, 2);
      const picture: PdfPicture = { box, width, height };
      if (Math.min(width, height) >= bounds.minSide && width * height <= bounds.maxPixels) {
        const bytes = jpegOf(engine, object, scratch + 32) ?? pngOf(engine, object, scratch + 32);
        if (bytes) picture.bytes = bytes;
      }
      pictures.push(picture);
    }
    return pictures;
  } finally {
    api.free(scratch);
  }
};

/** The stored JPEG, when the image's only filter is DCTDecode. */
const jpegOf = (engine: PdfiumInstance, object: number, scratch: number): Uint8Array | undefined => {
  const { api } = engine;
  if (api.FPDFImageObj_GetImageFilterCount(object) !== 1) return undefined;
  const length = api.FPDFImageObj_GetImageFilter(object, 0, scratch, 16);
  if (length <= 0 || length > 16) return undefined;
  const name = new TextDecoder().decode(engine.bytes().subarray(scratch, scratch + length - 1));
  if (name !== 'DCTDecode') return undefined;
  const size = api.FPDFImageObj_GetImageDataRaw(object, 0, 0);
  if (size <= 0) return undefined;
  const buffer = api.malloc(size);
  try {
    api.FPDFImageObj_GetImageDataRaw(object, buffer, size);
    return engine.bytes().slice(buffer, buffer + size);
  } finally {
    api.free(buffer);
  }
};

/** The image decoded by PDFium and encoded as PNG (its colours as RGBA). */
const pngOf = (engine: PdfiumInstance, object: number, scratch: number): Uint8Array | undefined => {
  const { api } = engine;
  const bitmap = api.FPDFImageObj_GetBitmap(object);
  if (!bitmap) return undefined;
  let rgba = 0;
  try {
    const width = api.FPDFBitmap_GetWidth(bitmap);
    const height = api.FPDFBitmap_GetHeight(bitmap);
    const stride = api.FPDFBitmap_GetStride(bitmap);
    const format = api.FPDFBitmap_GetFormat(bitmap);
    rgba = api.malloc(width * height * 4);
    if (!rgba) return undefined;
    const memory = engine.bytes();
    const source = api.FPDFBitmap_GetBuffer(bitmap);
    const channels = format === BITMAP_GRAY ? 1 : format === BITMAP_BGR ? 3 : 4;
    for (let row = 0; row < height; row++) {
      let from = source + row * stride;
      let to = rgba + row * width * 4;
      for (let column = 0; column < width; column++, from += channels, to += 4) {
        if (channels === 1) {
          const grey = memory[from] as number;
          memory[to] = grey;
          memory[to + 1] = grey;
          memory[to + 2] = grey;
        } else {
          memory[to] = memory[from + 2] as number;
          memory[to + 1] = memory[from + 1] as number;
          memory[to + 2] = memory[from] as number;
        }
        // No mask is applied here (GetBitmap is the image's own pixels): every pixel is opaque.
        memory[to + 3] = 255;
      }
    }
    const size = api.EPDF_PNG_EncodeRGBA(rgba, width, height, width * 4, PNG_LEVEL, scratch);
    if (size <= 0) return undefined;
    const png = new Uint32Array(api.memory.buffer, scratch, 1)[0] as number;
    try {
      return engine.bytes().slice(png, png + size);
    } finally {
      api.free(png);
    }
  } finally {
    if (rgba) api.free(rgba);
    api.FPDFBitmap_Destroy(bitmap);
  }
};
