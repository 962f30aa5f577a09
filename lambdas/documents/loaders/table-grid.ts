/**
 * A table's cells placed on its grid, spans and all: how HTML (and DOCX
 * through mammoth's HTML), ODT and PPTX tables become rows of equal width.
 * A cell takes the first free column of its row, left of which the cells of
 * rows above that span down already stand; its value is repeated in every
 * position it spans (the convention of docling's tables, on which the
 * reference set is scored), so each row reads whole — "2025 | March | $160"
 * rather than "| March | $160" — and no value lands under another column's
 * header. A cell across the table's whole width (a title or notes row) is
 * the exception: its text stands once, in its first column. Pure functions.
 */

export interface SpannedCell {
  text: string;
  /** Rows the cell covers, itself included (1 and up). */
  rowSpan: number;
  /** Columns the cell covers (1 and up). */
  colSpan: number;
}

/** Widest span read; wider ones count as this wide (a hostile `colspan="100000"` makes no 100,000 columns). */
export const MAX_COL_SPAN = 100;
/** Longest downward span read: past the table's last row a span ends anyway. */
export const MAX_ROW_SPAN = 10_000;

/** A span attribute as a count: a positive integer, clamped; anything else is 1. */
export const spanCount = (value: string | undefined, max: number): number => {
  const span = Number.parseInt(value ?? '1', 10);
  return Number.isInteger(span) && span > 1 ? Math.min(span, max) : 1;
};

/**
 * Characters a table may repeat for its spans: four times its own text and a
 * little more. Past that, spanned positions are left empty: a long cell
 * spanning a thousand rows is not copied a thousand times.
 */
const repeatBudget = (rows: readonly (readonly SpannedCell[])[]): number =>
  4 * rows.reduce((sum, row) => sum + row.reduce((cells, cell) => cells + cell.text.length, 0), 0) + 1_000;

/** The rows laid out on the grid, every row as wide as the widest. */
export const layOutTable = (rows: readonly (readonly SpannedCell[])[]): string[][] => {
  let budget = repeatBudget(rows);
  // A cell across the whole width (a title or notes row) is said once, not once per column.
  const width = Math.max(0, ...rows.map((row) => row.reduce((sum, cell) => sum + Math.max(cell.colSpan, 1), 0)));
  const grid: string[][] = rows.map(() => []);
  // Per column: the row up to which a span from above fills it (exclusive).
  const filledUntil: number[] = [];
  rows.forEach((row, rowIndex) => {
    let column = 0;
    for (const cell of row) {
      while ((filledUntil[column] ?? 0) > rowIndex) column++;
      const colSpan = Math.min(Math.max(cell.colSpan, 1), MAX_COL_SPAN);
      const rowSpan = Math.min(Math.max(cell.rowSpan, 1), MAX_ROW_SPAN, rows.length - rowIndex);
      for (let down = 0; down < rowSpan; down++) {
        const target = grid[rowIndex + down] as string[];
        for (let across = 0; across < colSpan; across++) {
          const first = down === 0 && across === 0;
          const repeat = !first && (across === 0 || colSpan < width) && budget >= cell.text.length;
          if (repeat) budget -= cell.text.length;
          target[column + across] = first || repeat ? cell.text : '';
        }
      }
      for (let across = 0; across < colSpan; across++) {
        filledUntil[column + across] = Math.max(filledUntil[column + across] ?? 0, rowIndex + rowSpan);
      }
      column += colSpan;
    }
  });
  const columns = Math.max(0, ...grid.map((line) => line.length));
  return grid.map((line) => Array.from({ length: columns }, (_, index) => line[index] ?? ''));
};
