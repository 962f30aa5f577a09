/** A PDF transformation matrix `[a, b, c, d, e, f]`: (x, y) → (a·x + c·y + e, b·x + d·y + f). */
export type Matrix = [number, number, number, number, number, number];

export const IDENTITY: Matrix = [1, 0, 0, 1, 0, 0];

/** `m` then `n`: a point through `multiply(m, n)` is a point through `m`, then through `n`. */
export const multiply = (m: Matrix, n: Matrix): Matrix => [
  m[0] * n[0] + m[1] * n[2],
  m[0] * n[1] + m[1] * n[3],
  m[2] * n[0] + m[3] * n[2],
  m[2] * n[1] + m[3] * n[3],
  m[4] * n[0] + m[5] * n[2] + n[4],
  m[4] * n[1] + m[5] * n[3] + n[5],
];

export const apply = (m: Matrix, x: number, y: number): [number, number] => [
  m[0] * x + m[2] * y + m[4],
  m[1] * x + m[3] * y + m[5],
];

/** `[a, b, c, d, e, f]`: (x, y) → (a·x + c·y + e, b·x + d·y + f). */
export type Affine = [number, number, number, number, number, number];

/** A box `[left, bottom, right, top]` in text-layer coordinates as shown: `[x0, y0, x1, y1]`, top left first. */
export const shownBox = (m: Affine, box: readonly number[]): [number, number, number, number] => {
  const [left = 0, bottom = 0, right = 0, top = 0] = box;
  const xs: number[] = [];
  const ys: number[] = [];
  for (const [x, y] of [
    [left, bottom],
    [right, top],
  ] as const) {
    xs.push(m[0] * x + m[2] * y + m[4]);
    ys.push(m[1] * x + m[3] * y + m[5]);
  }
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
};
