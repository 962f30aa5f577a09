import type { PdfiumExports } from './pdfium.js';
import { apply, multiply, type Matrix } from './matrix.js';

/**
 * A page's ruling lines: the horizontal and vertical strokes and thin
 * rectangles its vector paths draw, in page coordinates (points, origin at
 * the bottom left). Table borders, booktabs rules and row separators are
 * made of them; the table finder (tables.ts) reads them.
 */
export interface Rule {
  /** `h`: from (x0, y) to (x1, y); `v`: from (x, y0) to (x, y1); x0 ≤ x1, y0 ≤ y1. */
  kind: 'h' | 'v';
  /** Where it stands: y of a horizontal rule, x of a vertical one. */
  at: number;
  from: number;
  to: number;
}

const FPDF_PAGEOBJ_PATH = 2;
const FPDF_PAGEOBJ_FORM = 5;
const FPDF_SEGMENT_MOVETO = 2;
/** A box this thin is a rule drawn as a filled rectangle. */
const THIN = 3;
/** Shorter strokes are glyph-like marks, underlines of a word or ticks, not rules. */
const MIN_RULE = 6;
/** A segment this close to level (or plumb) is a rule. */
const LEVEL = 0.5;
/** Bounds on the work for one page: rules kept, path segments read, form nesting followed. */
const MAX_RULES = 5_000;
const MAX_SEGMENTS = 200_000;
const MAX_FORM_DEPTH = 4;
/** A filled path of more segments than a rectangle's is a drawing. */
const MAX_FILLED_SEGMENTS = 6;

/** Reads the rules of a loaded page; `scratch` is 32 bytes of engine memory the caller owns. */
export const readRules = (api: PdfiumExports, page: number, scratch: number): Rule[] => {
  const rules: Rule[] = [];
  let segments = 0;
  const floats = () => new Float32Array(api.memory.buffer, scratch, 6);
  const add = (x0: number, y0: number, x1: number, y1: number) => {
    if (rules.length >= MAX_RULES) return;
    if (Math.abs(y1 - y0) <= LEVEL && Math.abs(x1 - x0) >= MIN_RULE) {
      rules.push({ kind: 'h', at: (y0 + y1) / 2, from: Math.min(x0, x1), to: Math.max(x0, x1) });
    } else if (Math.abs(x1 - x0) <= LEVEL && Math.abs(y1 - y0) >= MIN_RULE) {
      rules.push({ kind: 'v', at: (x0 + x1) / 2, from: Math.min(y0, y1), to: Math.max(y0, y1) });
    }
  };
  const matrixOf = (object: number): Matrix => {
    if (!api.FPDFPageObj_GetMatrix(object, scratch)) return [1, 0, 0, 1, 0, 0];
    return [...floats()] as Matrix;
  };
  const readPath = (object: number, toPage: Matrix) => {
    // A thin box, whatever its path: a rule drawn as a filled rectangle or a stroke.
    if (api.FPDFPageObj_GetBounds(object, scratch, scratch + 4, scratch + 8, scratch + 12)) {
      const [left = 0, bottom = 0, right = 0, top = 0] = floats();
      const [x0, y0] = apply(toPage, left, bottom);
      const [x1, y1] = apply(toPage, right, top);
      const width = Math.abs(x1 - x0);
      const height = Math.abs(y1 - y0);
      if (width <= THIN && height >= MIN_RULE) return add((x0 + x1) / 2, y0, (x0 + x1) / 2, y1);
      if (height <= THIN && width >= MIN_RULE) return add(x0, (y0 + y1) / 2, x1, (y0 + y1) / 2);
    }
    // Otherwise its level and plumb straight segments: a grid drawn as one stroked path, or cells as
    // rectangles. A filled shape of many segments is a drawing (an outline, a logo), not rules: not walked.
    const count = api.FPDFPath_CountSegments(object);
    if (count > MAX_FILLED_SEGMENTS) {
      const stroked =
        api.FPDFPath_GetDrawMode(object, scratch, scratch + 4) && new Int32Array(api.memory.buffer, scratch + 4, 1)[0];
      if (!stroked) return;
    }
    const matrix = multiply(matrixOf(object), toPage);
    let start: [number, number] | undefined;
    let last: [number, number] | undefined;
    for (let index = 0; index < count && segments < MAX_SEGMENTS; index++, segments++) {
      const segment = api.FPDFPath_GetPathSegment(object, index);
      if (!segment || !api.FPDFPathSegment_GetPoint(segment, scratch, scratch + 4)) continue;
      const [x = 0, y = 0] = floats();
      const point = apply(matrix, x, y);
      if (api.FPDFPathSegment_GetType(segment) === FPDF_SEGMENT_MOVETO) start = point;
      else if (last) add(last[0], last[1], point[0], point[1]);
      last = point;
      if (api.FPDFPathSegment_GetClose(segment) && start) {
        add(point[0], point[1], start[0], start[1]);
        last = start;
      }
    }
  };
  const readObjects = (count: number, objectAt: (index: number) => number, toPage: Matrix, depth: number) => {
    for (let index = 0; index < count && rules.length < MAX_RULES && segments < MAX_SEGMENTS; index++) {
      const object = objectAt(index);
      const type = api.FPDFPageObj_GetType(object);
      if (type === FPDF_PAGEOBJ_PATH) readPath(object, toPage);
      else if (type === FPDF_PAGEOBJ_FORM && depth < MAX_FORM_DEPTH) {
        const inner = multiply(matrixOf(object), toPage);
        readObjects(
          api.FPDFFormObj_CountObjects(object),
          (at) => api.FPDFFormObj_GetObject(object, at),
          inner,
          depth + 1,
        );
      }
      segments++;
    }
  };
  readObjects(api.FPDFPage_CountObjects(page), (index) => api.FPDFPage_GetObject(page, index), [1, 0, 0, 1, 0, 0], 0);
  return rules;
};
