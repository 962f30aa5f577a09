import { createHash } from 'node:crypto';
import type { PdfiumInstance } from './pdfium.js';
import { apply, IDENTITY, multiply, shownBox, type Affine, type Matrix } from './matrix.js';

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
  /** Kept without bytes because the range's decode budget was spent. */
  overBudget?: boolean;
}

export interface PictureBounds {
  minSide: number;
  /** Most pixels a picture may declare to be kept (a JPEG is kept as stored). */
  maxPixels: number;
  /** Most pixels a picture that is not a JPEG is decoded with (its pixels and their RGBA copy live in the engine). */
  maxDecodedPixels: number;
  /** Largest picture kept, in bytes: a larger stream is not copied out of the engine. */
  maxBytes: number;
  /** Pictures drawn smaller than this (points) are icons: never grouped with others. */
  minPoints: number;
}

/**
 * What the pictures of one range of pages share: each distinct image stream
 * decoded once (by its raw bytes' digest), and at most `decodes` decoded at
 * all; the pictures past it, or past `MAX_PICTURES_PER_PAGE` on a page, are
 * reported without bytes and counted.
 */
export interface PictureBudget {
  decodes: number;
  seen: Map<string, Uint8Array | undefined>;
}

/** Distinct pictures decoded per range of pages (a block: 12 pages). */
export const DECODES_PER_RANGE = 96;
/** Image objects looked at per page; more are counted, not read. */
export const MAX_PICTURES_PER_PAGE = 1000;
/** Pictures a page groups at most (grouping compares each pair). */
const MAX_GROUPED = 200;

export const pictureBudget = (): PictureBudget => ({ decodes: DECODES_PER_RANGE, seen: new Map() });

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
  budget: PictureBudget,
): PdfPicture[] => {
  const { api } = engine;
  const scratch = api.malloc(64);
  try {
    const pictures: PdfPicture[] = [];
    for (const { object, toPage } of objects.slice(0, MAX_PICTURES_PER_PAGE)) {
      if (!api.FPDFPageObj_GetBounds(object, scratch, scratch + 4, scratch + 8, scratch + 12)) continue;
      const [left = 0, bottom = 0, right = 0, top = 0] = new Float32Array(api.memory.buffer, scratch, 4);
      const [x0, y0] = apply(toPage, left, bottom);
      const [x1, y1] = apply(toPage, right, top);
      const box: PdfPicture['box'] = [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)];
      const sized = api.FPDFImageObj_GetImagePixelSize(object, scratch + 16, scratch + 20);
      const [width = 0, height = 0] = sized ? new Uint32Array(api.memory.buffer, scratch + 16, 2) : [0, 0];
      const picture: PdfPicture = { box, width, height };
      if (sized && Math.min(width, height) >= bounds.minSide && width * height <= bounds.maxPixels) {
        const bytes = bytesOf(engine, object, scratch + 32, bounds, budget, width * height);
        if (bytes === 'over budget') picture.overBudget = true;
        else if (bytes) picture.bytes = bytes;
      }
      pictures.push(picture);
    }
    // Past the page's bound: reported, with no place and no bytes, to be counted.
    for (let more = MAX_PICTURES_PER_PAGE; more < objects.length; more++) {
      pictures.push({ box: [0, 0, 0, 0], width: 0, height: 0, overBudget: true });
    }
    return pictures;
  } finally {
    api.free(scratch);
  }
};

/**
 * A picture's bytes: the same stream (by its raw bytes' digest) as one
 * already read gives the same bytes without a decode; a JPEG as stored; any
 * other image decoded, within the range's budget and the decode bound.
 */
const bytesOf = (
  engine: PdfiumInstance,
  object: number,
  scratch: number,
  bounds: PictureBounds,
  budget: PictureBudget,
  pixels: number,
): Uint8Array | undefined | 'over budget' => {
  const { api } = engine;
  const size = api.FPDFImageObj_GetImageDataRaw(object, 0, 0);
  if (size <= 0 || size > bounds.maxBytes) return undefined;
  const raw = api.malloc(size);
  if (!raw) return undefined;
  let key: string;
  try {
    api.FPDFImageObj_GetImageDataRaw(object, raw, size);
    key = createHash('sha256')
      .update(engine.bytes().subarray(raw, raw + size))
      .digest('hex');
    if (budget.seen.has(key)) return budget.seen.get(key);
    if (isJpeg(engine, object, scratch)) {
      const jpeg = engine.bytes().slice(raw, raw + size);
      budget.seen.set(key, jpeg);
      return jpeg;
    }
  } finally {
    api.free(raw);
  }
  if (pixels > bounds.maxDecodedPixels) return undefined;
  if (budget.decodes <= 0) return 'over budget';
  budget.decodes--;
  const png = pngOf(engine, object, scratch);
  budget.seen.set(key, png);
  return png;
};

/** Whether the image's only filter is DCTDecode: its raw stream is then a JPEG file. */
const isJpeg = (engine: PdfiumInstance, object: number, scratch: number): boolean => {
  const { api } = engine;
  if (api.FPDFImageObj_GetImageFilterCount(object) !== 1) return false;
  const length = api.FPDFImageObj_GetImageFilter(object, 0, scratch, 16);
  if (length <= 0 || length > 16) return false;
  return new TextDecoder().decode(engine.bytes().subarray(scratch, scratch + length - 1)) === 'DCTDecode';
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
  toShown: Affine,
): PdfPicture[] => {
  const { api } = engine;
  if (pictures.length < 2 || api.FPDFPage_GetRotation(page) !== 0) return [...pictures];
  // Icons, and a picture behind most of the page (a background, a scanned page), are never part of a group.
  const pageArea = api.FPDF_GetPageWidthF(page) * api.FPDF_GetPageHeightF(page);
  // Only pictures kept on their own merit are grouped: one refused for its size is never drawn from the page.
  const groupable = (picture: PdfPicture) => {
    const [left, bottom, right, top] = picture.box;
    return (
      picture.bytes !== undefined &&
      Math.min(right - left, top - bottom) >= bounds.minPoints &&
      (right - left) * (top - bottom) < 0.8 * pageArea
    );
  };
  const candidates = pictures.filter(groupable);
  if (candidates.length < 2 || candidates.length > MAX_GROUPED) return [...pictures];
  const alone = pictures.filter((picture) => !candidates.includes(picture));
  const grouped = groupsOf(candidates);
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
        return renderRegion(engine, page, box, bounds, toShown, scratch);
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
  pictures.forEach((picture, index) => {
    const group = groups.get(root(index));
    if (group) group.push(picture);
    else groups.set(root(index), [picture]);
  });
  return [...groups.values()];
};

/** The page's region `box` (page space) drawn at REGION_DPI (less for a region past `maxPixels`), as a PNG. */
const renderRegion = (
  engine: PdfiumInstance,
  page: number,
  box: PdfPicture['box'],
  bounds: PictureBounds,
  toShown: Affine,
  scratch: number,
): PdfPicture => {
  const { api } = engine;
  const pageHeight = api.FPDF_GetPageHeightF(page);
  const pageWidth = api.FPDF_GetPageWidthF(page);
  // Where the region stands as the page is shown (its crop box's origin and /Rotate applied): what the render draws.
  const [left, top, right, bottom] = shownBox(toShown, box);
  const wanted = ((right - left) / 72) * REGION_DPI * (((bottom - top) / 72) * REGION_DPI);
  const dpi = wanted > bounds.maxDecodedPixels ? REGION_DPI * Math.sqrt(bounds.maxDecodedPixels / wanted) : REGION_DPI;
  const scale = dpi / 72;
  const width = Math.max(1, Math.round((right - left) * scale));
  const height = Math.max(1, Math.round((bottom - top) * scale));
  const region: PdfPicture = { box, width, height };
  const bitmap = api.FPDFBitmap_Create(width, height, 0);
  if (!bitmap) return region;
  try {
    api.FPDFBitmap_FillRect(bitmap, 0, 0, width, height, WHITE);
    // The whole page at this scale, moved so that the region's top left is the bitmap's origin.
    api.FPDF_RenderPageBitmap(
      bitmap,
      page,
      -Math.round(left * scale),
      -Math.round(top * scale),
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
