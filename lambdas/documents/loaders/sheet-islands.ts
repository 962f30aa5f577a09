/**
 * Table islands of a sheet: the groups of non-empty cells that touch (side
 * by side or one above the other, or inside one merged range). Two tables
 * on one sheet, side by side or one below the other with an empty row or
 * column between them, are two islands, read one after the other instead of
 * as one grid whose rows interleave. A pure function of the cells.
 */

export interface SheetRow {
  /** 0-based row number. */
  index: number;
  /** Columns of the non-empty cells, ascending. */
  columns: number[];
  values: string[];
}

/** A merged range (0-based, inclusive). */
export interface CellRange {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

/** `B2:D5` (or `$B$2:$D$5`, or one cell `B2`) as a range; undefined when it is not one. */
export const rangeOf = (reference: string): CellRange | undefined => {
  const match = /^\$?([A-Za-z]{1,3})\$?(\d{1,7})(?::\$?([A-Za-z]{1,3})\$?(\d{1,7}))?$/.exec(reference.trim());
  if (!match) return undefined;
  const column = (letters: string) =>
    [...letters.toUpperCase()].reduce((value, letter) => value * 26 + letter.charCodeAt(0) - 64, 0) - 1;
  const [, leftLetters = '', top = '', rightLetters = leftLetters, bottom = top] = match;
  const range = {
    top: Math.min(Number(top), Number(bottom)) - 1,
    bottom: Math.max(Number(top), Number(bottom)) - 1,
    left: Math.min(column(leftLetters), column(rightLetters)),
    right: Math.max(column(leftLetters), column(rightLetters)),
  };
  return range.top < 0 ? undefined : range;
};

/** `A1` from a 0-based row and column. */
export const referenceOf = (row: number, column: number): string => {
  let letters = '';
  for (let value = column + 1; value > 0; value = Math.floor((value - 1) / 26)) {
    letters = String.fromCharCode(65 + ((value - 1) % 26)) + letters;
  }
  return `${letters}${row + 1}`;
};

/** The rows (sorted, cells in column order) split into islands, each in the order its top-left cell comes. */
export const islandsOf = (rows: readonly SheetRow[], merges: readonly CellRange[] = []): SheetRow[][] => {
  const total = rows.reduce((sum, row) => sum + row.columns.length, 0);
  const parent = new Int32Array(total);
  for (let id = 0; id < total; id++) parent[id] = id;
  const find = (id: number): number => {
    let root = id;
    while (parent[root] !== root) root = parent[root] as number;
    for (let at = id; parent[at] !== root;) {
      const next = parent[at] as number;
      parent[at] = root;
      at = next;
    }
    return root;
  };
  const join = (a: number, b: number) => {
    const [rootA, rootB] = [find(a), find(b)];
    // The smaller id stays the root: an island is then named by its first cell in reading order.
    if (rootA !== rootB) parent[Math.max(rootA, rootB)] = Math.min(rootA, rootB);
  };
  const starts: number[] = [];
  let id = 0;
  let above: { index: number; ids: Map<number, number> } | undefined;
  for (const row of rows) {
    starts.push(id);
    const ids = new Map<number, number>();
    row.columns.forEach((column, at) => {
      ids.set(column, id);
      if (at > 0 && row.columns[at - 1] === column - 1) join(id, id - 1);
      const up = above?.index === row.index - 1 ? above.ids.get(column) : undefined;
      if (up !== undefined) join(id, up);
      id++;
    });
    above = { index: row.index, ids };
  }
  joinMerges(rows, starts, merges, join, total);
  const islands = new Map<number, SheetRow[]>();
  rows.forEach((row, rowAt) => {
    row.columns.forEach((column, at) => {
      const root = find((starts[rowAt] as number) + at);
      let island = islands.get(root);
      if (!island) islands.set(root, (island = []));
      let last = island[island.length - 1];
      if (last?.index !== row.index) island.push((last = { index: row.index, columns: [], values: [] }));
      last.columns.push(column);
      last.values.push(row.values[at] as string);
    });
  });
  return [...islands.entries()].sort(([a], [b]) => a - b).map(([, island]) => island);
};

/**
 * The cells inside each merged range (and those touching it) are one island:
 * a merged title over a table joins the table. Bounded work: a range over the
 * whole sheet costs the cells it holds, and past four visits per cell the
 * remaining ranges are left out (a workbook that merges that much is no table).
 */
const joinMerges = (
  rows: readonly SheetRow[],
  starts: readonly number[],
  merges: readonly CellRange[],
  join: (a: number, b: number) => void,
  total: number,
) => {
  let budget = 4 * total + merges.length;
  for (const range of merges) {
    let first: number | undefined;
    for (let rowAt = lowerBound(rows, range.top - 1); rowAt < rows.length; rowAt++) {
      const row = rows[rowAt] as SheetRow;
      if (row.index > range.bottom + 1) break;
      for (let at = 0; at < row.columns.length; at++) {
        if (--budget < 0) return;
        const column = row.columns[at] as number;
        const inside = row.index >= range.top && row.index <= range.bottom;
        // Inside the range, or next to one of its sides (not its corners).
        const touches = inside
          ? column >= range.left - 1 && column <= range.right + 1
          : column >= range.left && column <= range.right;
        if (!touches) continue;
        const cell = (starts[rowAt] as number) + at;
        if (first === undefined) first = cell;
        else join(first, cell);
      }
    }
  }
};

/** The first row at or below `index`. */
const lowerBound = (rows: readonly SheetRow[], index: number): number => {
  let low = 0;
  let high = rows.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((rows[middle] as SheetRow).index < index) low = middle + 1;
    else high = middle;
  }
  return low;
};
