import type { PdfiumInstance } from './pdfium.js';
import { apply, IDENTITY, multiply, type Matrix } from './matrix.js';

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
  /** Pictures drawn smaller than this (points) are icons: never grouped with others. */
  minPoints: number;
}

const FPDF_PAGEOBJ_IMAGE = 3;
const FPDF_PAGEOBJ_FORM = 5;
/** Forms (XObjects) opened inside one another, and objects looked at, per page. */
const MAX_FORM_DEPTH = 4;
const MAX_OBJECTS = 20_000;

/** An image object and the matrix from its form's space to the page's (the identity on the page itself). */
export interface ImageObject {
  object: number;
  toPage: Matrix;
}

/**
 * The page's image objects, those inside forms (XObjects) too, each with the
 * matrix that places its bounds on the page: a figure a PDF writer wrapped in
 * a form is a figure as well. Bounded in depth and in objects looked at.
 */
export const imageObjectsOf = (engine: PdfiumInstance, page: number): ImageObject[] => {
  const { api } = engine;
  const found: ImageObject[] = [];
  const scratch = api.malloc(24);
  let seen = 0;
  try {
    const matrixOf = (object: number): Matrix =>
      api.FPDFPageObj_GetMatrix(object, scratch)
        ? ([...new Float32Array(api.memory.buffer, scratch, 6)] as Matrix)
        : IDENTITY;
    const walk = (count: number, objectAt: (index: number) => number, toPage: Matrix, depth: number) => {
      for (let index = 0; index < count && seen < MAX_OBJECTS; index++, seen++) {
        const object = objectAt(index);
        const type = api.FPDFPageObj_GetType(object);
        if (type === FPDF_PAGEOBJ_IMAGE) found.push({ object, toPage });
        else if (type === FPDF_PAGEOBJ_FORM && depth < MAX_FORM_DEPTH) {
          walk(
            api.FPDFFormObj_CountObjects(object),
            (at) => api.FPDFFormObj_GetObject(object, at),
            multiply(matrixOf(object), toPage),
            depth + 1,
          );
        }
      }
    };
    walk(api.FPDFPage_CountObjects(page), (index) => api.FPDFPage_GetObject(page, index), IDENTITY, 0);
    return found;
  } finally {
    api.free(scratch);
  }
};
/** FPDFBitmap_GetFormat: grey, BGR, BGRx, BGRA. */
const BITMAP_GRAY = 1;
const BITMAP_BGR = 2;
const PNG_LEVEL = 6;

export const readPictures = (
  engine: PdfiumInstance,
  objects: readonly ImageObject[],
  bounds: PictureBounds,
): PdfPicture[] => {
  const { api } = engine;
  const scratch = api.malloc(64);
  try {
    const pictures: PdfPicture[] = [];
    for (const { object, toPage } of objects) {
      if (!api.FPDFPageObj_GetBounds(object, scratch, scratch + 4, scratch + 8, scratch + 12)) continue;
      const [left = 0, bottom = 0, right = 0, top = 0] = new Float32Array(api.memory.buffer, scratch, 4);
      const [x0, y0] = apply(toPage, left, bottom);
      const [x1, y1] = apply(toPage, right, top);
      const box: PdfPicture['box'] = [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)];
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
  try {
    return encodeBitmap(engine, bitmap, scratch);
  } finally {
    api.FPDFBitmap_Destroy(bitmap);
  }
};

/** A PDFium bitmap (grey, BGR, BGRx or BGRA) as a PNG, every pixel opaque. */
const encodeBitmap = (engine: PdfiumInstance, bitmap: number, scratch: number): Uint8Array | undefined => {
  const { api } = engine;
  const width = api.FPDFBitmap_GetWidth(bitmap);
  const height = api.FPDFBitmap_GetHeight(bitmap);
  const stride = api.FPDFBitmap_GetStride(bitmap);
  const format = api.FPDFBitmap_GetFormat(bitmap);
  const rgba = api.malloc(width * height * 4);
  if (!rgba) return undefined;
  try {
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
        // No mask is applied (an image's own pixels, or a render on white): every pixel is opaque.
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
    api.free(rgba);
  }
};

/** Points between two pictures' boxes that still make them one figure (a chart's parts, a photo's tiles). */
const TOUCHING = 4;
/** Resolution a figure made of several pictures is drawn at. */
const REGION_DPI = 144;
const RENDER_FLAGS = 0x01 | 0x800;
const WHITE = 0xffffffff;

const touches = (a: PdfPicture['box'], b: PdfPicture['box']) =>
  a[0] <= b[2] + TOUCHING && b[0] <= a[2] + TOUCHING && a[1] <= b[3] + TOUCHING && b[1] <= a[3] + TOUCHING;

/**
 * Pictures that touch or overlap on the page are one figure (a diagram laid
 * out as several images, a photo in tiles): each group of two or more is
 * drawn from its region of the page, as it is shown, and encoded as one PNG.
 * Pictures alone, and every picture of a page turned by /Rotate, stay as
 * they are.
 */
export const groupPictures = (
  engine: PdfiumInstance,
  page: number,
  pictures: readonly PdfPicture[],
  bounds: PictureBounds,
): PdfPicture[] => {
  const { api } = engine;
  if (pictures.length < 2 || api.FPDFPage_GetRotation(page) !== 0) return [...pictures];
  // Icons, and a picture behind most of the page (a background, a scanned page), are never part of a group.
  const pageArea = api.FPDF_GetPageWidthF(page) * api.FPDF_GetPageHeightF(page);
  const groupable = (picture: PdfPicture) => {
    const [left, bottom, right, top] = picture.box;
    return Math.min(right - left, top - bottom) >= bounds.minPoints && (right - left) * (top - bottom) < 0.8 * pageArea;
  };
  const alone = pictures.filter((picture) => !groupable(picture));
  const grouped = groupsOf(pictures.filter(groupable));
  const scratch = api.malloc(16);
  try {
    return [
      ...alone,
      ...grouped.map((group) => {
        if (group.length === 1) return group[0] as PdfPicture;
        const box: PdfPicture['box'] = [
          Math.min(...group.map((picture) => picture.box[0])),
          Math.min(...group.map((picture) => picture.box[1])),
          Math.max(...group.map((picture) => picture.box[2])),
          Math.max(...group.map((picture) => picture.box[3])),
        ];
        return renderRegion(engine, page, box, bounds, scratch);
      }),
    ];
  } finally {
    api.free(scratch);
  }
};

/** The pictures in groups of those that touch, transitively (union–find), in the pictures' order. */
const groupsOf = (pictures: readonly PdfPicture[]): PdfPicture[][] => {
  const parent = pictures.map((_, index) => index);
  const root = (index: number): number =>
    parent[index] === index ? index : (parent[index] = root(parent[index] as number));
  for (let a = 0; a < pictures.length; a++) {
    for (let b = a + 1; b < pictures.length; b++) {
      if (touches((pictures[a] as PdfPicture).box, (pictures[b] as PdfPicture).box)) parent[root(b)] = root(a);
    }
  }
  const groups = new Map<number, PdfPicture[]>();
  pictures.forEach((picture, index) => groups.set(root(index), [...(groups.get(root(index)) ?? []), picture]));
  return [...groups.values()];
};

/** The page's region `box` (page space) drawn at REGION_DPI (less for a region past `maxPixels`), as a PNG. */
const renderRegion = (
  engine: PdfiumInstance,
  page: number,
  box: PdfPicture['box'],
  bounds: PictureBounds,
  scratch: number,
): PdfPicture => {
  const { api } = engine;
  const pageHeight = api.FPDF_GetPageHeightF(page);
  const pageWidth = api.FPDF_GetPageWidthF(page);
  const wanted = ((box[2] - box[0]) / 72) * REGION_DPI * (((box[3] - box[1]) / 72) * REGION_DPI);
  const dpi = wanted > bounds.maxPixels ? REGION_DPI * Math.sqrt(bounds.maxPixels / wanted) : REGION_DPI;
  const scale = dpi / 72;
  const width = Math.max(1, Math.round((box[2] - box[0]) * scale));
  const height = Math.max(1, Math.round((box[3] - box[1]) * scale));
  const region: PdfPicture = { box, width, height };
  const bitmap = api.FPDFBitmap_Create(width, height, 0);
  if (!bitmap) return region;
  try {
    api.FPDFBitmap_FillRect(bitmap, 0, 0, width, height, WHITE);
    // The whole page at this scale, moved so that the region's top left is the bitmap's origin.
    api.FPDF_RenderPageBitmap(
      bitmap,
      page,
      -Math.round(box[0] * scale),
      -Math.round((pageHeight - box[3]) * scale),
      Math.round(pageWidth * scale),
      Math.round(pageHeight * scale),
      0,
      RENDER_FLAGS,
    );
    const bytes = encodeBitmap(engine, bitmap, scratch);
    return bytes ? { ...region, bytes } : region;
  } finally {
    api.FPDFBitmap_Destroy(bitmap);
  }
};
