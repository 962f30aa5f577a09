import type { TextRun } from '../loaders/pdf-structure.js';
import { layOutTable, type SpannedCell } from '../loaders/table-grid.js';
import type { Rule } from './rules.js';

/**
 * Tables of a page from its ruling lines (rules.ts) and the runs of text
 * between them. Two kinds, as documents draw them:
 *
 * - **Grids**: horizontal and vertical rules that cross one another. Each
 *   space between neighbouring rules is a cell; a rule missing between two
 *   cells merges them (a spanned header, a cell over two rows). The text of
 *   a cell is the runs inside it, line by line.
 * - **Rule-bounded tables** (booktabs: a rule above, one under the header,
 *   one below; or rules between rows, none between columns): two or more
 *   horizontal rules of about the same extent, with text between them.
 *   Columns are the gaps that run through every line of the region (no text
 *   crosses them); rows are the bands between the rules when every band
 *   holds one row, else the lines of text.
 *
 * A table needs two rows and two columns with text. Pure functions; the page
 * thread calls them with the page's upright runs, and the runs a table takes
 * are not read again as lines.
 */

export interface PageTable {
  /** Rows of cells, spans laid out (table-grid.ts). */
  rows: string[][];
  /** Indexes of the runs the table took. */
  runs: number[];
  /** The first of them in the page's order: where the table stands. */
  at: number;
}

/** Rules this close (points) are one; a rule ending this close to another meets it. */
const SNAP = 2;
/** Horizontal rules of one rule-bounded table start and end within this share of its width. */
const SAME_EXTENT = 0.1;
/** A gap between columns is at least this many ems wide. */
const COLUMN_GAP_EM = 0.8;
/** Runs whose baselines are this close (in ems) are on one line. */
const SAME_LINE_EM = 0.5;
/** Grids with more cells than this are read as text (a hostile page of a million tiny boxes). */
const MAX_GRID_CELLS = 10_000;
const MAX_RULE_PAIRS = 1_000_000;
/** A rule of the table itself reaches across at least this share of it; shorter ones belong to a nested table. */
const OUTER_RULE_SHARE = 0.5;
/** In a table bounded by rules only, at least this share of the rows have two cells or more. */
const MIN_FULL_ROWS_SHARE = 0.6;

interface Item {
  index: number;
  text: string;
  x0: number;
  x1: number;
  /** Baseline. */
  y: number;
  size: number;
  mono: boolean;
}

const QUARTER_TURN = Math.PI / 2;

/** Quarter turns (counter-clockwise) of a run's baseline. */
const quarterOf = (run: TextRun): number => {
  const [a = 0, b = 0] = run.transform;
  return ((Math.round(Math.atan2(b, a) / QUARTER_TURN) % 4) + 4) % 4;
};

/** A point in the frame where text of `quarter` turns reads upright (as pdf-structure.ts places runs). */
const uprightPoint = (quarter: number, x: number, y: number): [number, number] =>
  ([
    [x, y],
    [y, -x],
    [-x, -y],
    [-y, x],
  ][quarter] ?? [x, y]) as [number, number];

/** The page's text direction: the quarter most characters run in (a slide stored turned reads along its height). */
const mainQuarterOf = (runs: readonly TextRun[]): number => {
  const chars = [0, 0, 0, 0];
  for (const run of runs) chars[quarterOf(run)] = (chars[quarterOf(run)] ?? 0) + run.str.length;
  return chars.indexOf(Math.max(...chars));
};

/** Runs of the page's direction as boxes in its upright frame; others never join a table. */
const itemsOf = (runs: readonly TextRun[], quarter: number): Item[] =>
  runs.flatMap((run, index) => {
    const [a = 0, b = 0, c = 0, d = 0, x = 0, y = 0] = run.transform;
    const size = Math.hypot(c, d) || 1;
    if (quarterOf(run) !== quarter || Math.abs(Math.atan2(b, a) - quarter * QUARTER_TURN) % QUARTER_TURN > 0.01) {
      return [];
    }
    if (!run.str.trim()) return [];
    const [along, across] = uprightPoint(quarter, x, y);
    return [{ index, text: run.str, x0: along, x1: along + run.width, y: across, size, mono: run.mono === true }];
  });

/** Rules in the upright frame: a quarter turn swaps horizontal and vertical. */
const uprightRules = (rules: readonly Rule[], quarter: number): Rule[] =>
  rules.map((rule) => {
    const [x0, y0, x1, y1] =
      rule.kind === 'h' ? [rule.from, rule.at, rule.to, rule.at] : [rule.at, rule.from, rule.at, rule.to];
    const [p, q] = uprightPoint(quarter, x0, y0);
    const [r, t] = uprightPoint(quarter, x1, y1);
    return Math.abs(q - t) < Math.abs(p - r)
      ? { kind: 'h', at: (q + t) / 2, from: Math.min(p, r), to: Math.max(p, r) }
      : { kind: 'v', at: (p + r) / 2, from: Math.min(q, t), to: Math.max(q, t) };
  });

/** Middle of a run's height: what decides which cell it is in. */
const middleOf = (item: Item) => item.y + item.size * 0.3;

/** Collinear rules (positions within SNAP) that overlap or touch, merged; sorted by position, then start. */
const merged = (rules: readonly Rule[]): Rule[] => {
  const byPosition = [...rules].sort((p, q) => p.at - q.at);
  const lines: Rule[][] = [];
  for (const rule of byPosition) {
    const line = lines[lines.length - 1];
    if (line && rule.at - (line[0] as Rule).at <= SNAP) line.push(rule);
    else lines.push([rule]);
  }
  const out: Rule[] = [];
  for (const line of lines) {
    const at = line.reduce((sum, rule) => sum + rule.at, 0) / line.length;
    let open: Rule | undefined;
    for (const rule of line.sort((p, q) => p.from - q.from)) {
      if (open && rule.from <= open.to + SNAP) open.to = Math.max(open.to, rule.to);
      else out.push((open = { ...rule, at }));
    }
  }
  return out;
};

/** Each runs on past the other on both sides: a crossing, not a nested table's rule meeting its cell's border. */
const passes = (h: Rule, v: Rule) =>
  v.from < h.at - SNAP && v.to > h.at + SNAP && h.from < v.at - SNAP && h.to > v.at + SNAP;

const crosses = (h: Rule, v: Rule) =>
  v.at >= h.from - SNAP && v.at <= h.to + SNAP && h.at >= v.from - SNAP && h.at <= v.to + SNAP;

/** Positions within SNAP of each other as one, ascending. */
const distinct = (values: number[]): number[] => {
  const out: number[] = [];
  for (const value of [...values].sort((a, b) => a - b)) {
    if (!out.length || value - (out[out.length - 1] as number) > SNAP) out.push(value);
  }
  return out;
};

/** The text of runs: lines top to bottom, runs left to right, joined by spaces. */
const textOf = (items: readonly Item[]): string => {
  const sorted = [...items].sort((a, b) => b.y - a.y || a.x0 - b.x0);
  const parts: string[] = [];
  let previous: Item | undefined;
  for (const item of sorted) {
    const sameLine = previous && Math.abs(previous.y - item.y) <= SAME_LINE_EM * item.size;
    const glued = sameLine && previous && item.x0 - previous.x1 < 0.15 * item.size;
    parts.push(previous && !glued ? ` ${item.text}` : item.text);
    previous = item;
  }
  return parts.join('').replace(/\s+/g, ' ').trim();
};

/** A table worth the name: at least two rows and two columns holding text. */
const isTable = (rows: string[][]): boolean => {
  const filledRows = rows.filter((row) => row.some(Boolean)).length;
  const width = Math.max(0, ...rows.map((row) => row.length));
  const filledColumns = Array.from({ length: width }, (_, column) => rows.some((row) => row[column])).filter(
    Boolean,
  ).length;
  return filledRows >= 2 && filledColumns >= 2;
};

/** Rows and columns with no text anywhere are left out. */
const compact = (rows: string[][]): string[][] => {
  const width = Math.max(0, ...rows.map((row) => row.length));
  const used = Array.from({ length: width }, (_, column) => rows.some((row) => row[column]));
  return rows.filter((row) => row.some(Boolean)).map((row) => row.filter((_, column) => used[column]));
};

/** Groups of rules that cross one another (union-find over the horizontal and vertical rules). */
const gridsOf = (horizontal: readonly Rule[], vertical: readonly Rule[]) => {
  const all = [...horizontal, ...vertical];
  const parent = all.map((_, index) => index);
  const find = (index: number): number => {
    let root = index;
    while (parent[root] !== root) root = parent[root] as number;
    return root;
  };
  horizontal.forEach((h, i) => {
    vertical.forEach((v, j) => {
      if (crosses(h, v)) parent[find(horizontal.length + j)] = find(i);
    });
  });
  const groups = new Map<number, { h: Rule[]; v: Rule[] }>();
  all.forEach((rule, index) => {
    const root = find(index);
    let group = groups.get(root);
    if (!group) groups.set(root, (group = { h: [], v: [] }));
    (rule.kind === 'h' ? group.h : group.v).push(rule);
  });
  return [...groups.values()].filter((group) => group.h.length >= 2 && group.v.length >= 2);
};

const covers = (rules: readonly Rule[], at: number, point: number) =>
  rules.some((rule) => Math.abs(rule.at - at) <= SNAP && point >= rule.from - SNAP && point <= rule.to + SNAP);

/** A grid's cells: the spaces between its rules, merged where a rule between two is missing. */
const readGrid = (found: { h: Rule[]; v: Rule[] }, items: readonly Item[]): PageTable | undefined => {
  // The outer edges are where the rules reach: tables often rule inner columns only, under a rule across the whole.
  const left = Math.min(...found.h.map((rule) => rule.from));
  const right = Math.max(...found.h.map((rule) => rule.to));
  const bottom = Math.min(...found.v.map((rule) => rule.from));
  const top = Math.max(...found.v.map((rule) => rule.to));
  // A short rule that neither runs through one of the table's long rules nor spans between two belongs to a
  // table nested in a cell: its text is that cell's. (A rule under a spanned header spans between column rules.)
  const longH = found.h.filter((rule) => rule.to - rule.from >= OUTER_RULE_SHARE * (right - left));
  const longV = found.v.filter((rule) => rule.to - rule.from >= OUTER_RULE_SHARE * (top - bottom));
  const meets = (end: number, at: number, rules: readonly Rule[]) =>
    rules.some((rule) => Math.abs(rule.at - end) <= SNAP && at >= rule.from - SNAP && at <= rule.to + SNAP);
  const grid = {
    h: found.h.filter(
      (rule) =>
        longH.includes(rule) ||
        longV.some((v) => passes(rule, v)) ||
        (meets(rule.from, rule.at, longV) && meets(rule.to, rule.at, longV)),
    ),
    v: found.v.filter(
      (rule) =>
        longV.includes(rule) ||
        longH.some((h) => passes(h, rule)) ||
        (meets(rule.from, rule.at, longH) && meets(rule.to, rule.at, longH)),
    ),
  };
  const ys = distinct([...grid.h.map((rule) => rule.at), top, bottom]).reverse(); // top to bottom
  const xs = distinct([...grid.v.map((rule) => rule.at), left, right]);
  const rows = ys.length - 1;
  const columns = xs.length - 1;
  if (rows < 1 || columns < 1 || rows * columns > MAX_GRID_CELLS) return undefined;
  // Each slot's cell: slots joined across a missing rule share one (union-find over slots).
  const parent = Array.from({ length: rows * columns }, (_, slot) => slot);
  const find = (slot: number): number => {
    let root = slot;
    while (parent[root] !== root) root = parent[root] as number;
    return root;
  };
  const join = (a: number, b: number) => {
    const [ra, rb] = [find(a), find(b)];
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  for (let row = 0; row < rows; row++) {
    const middleY = ((ys[row] as number) + (ys[row + 1] as number)) / 2;
    for (let column = 0; column < columns; column++) {
      const middleX = ((xs[column] as number) + (xs[column + 1] as number)) / 2;
      if (column + 1 < columns && !covers(grid.v, xs[column + 1] as number, middleY)) {
        join(row * columns + column, row * columns + column + 1);
      }
      if (row + 1 < rows && !covers(grid.h, ys[row + 1] as number, middleX)) {
        join(row * columns + column, (row + 1) * columns + column);
      }
    }
  }
  const inside = items.filter((item) => {
    const x = (item.x0 + item.x1) / 2;
    const y = middleOf(item);
    return x > (xs[0] as number) && x < (xs[columns] as number) && y < (ys[0] as number) && y > (ys[rows] as number);
  });
  const slotOf = (item: Item): number => {
    const x = (item.x0 + item.x1) / 2;
    const y = middleOf(item);
    const row = ys.findIndex((value, at) => at < rows && y <= value && y > (ys[at + 1] as number));
    const column = xs.findIndex((value, at) => at < columns && x >= value && x < (xs[at + 1] as number));
    return find(Math.max(row, 0) * columns + Math.max(column, 0));
  };
  const byCell = new Map<number, Item[]>();
  for (const item of inside) {
    const cell = slotOf(item);
    const list = byCell.get(cell);
    if (list) list.push(item);
    else byCell.set(cell, [item]);
  }
  // Each cell once, at its top-left slot, with its extent in slots.
  const cells: SpannedCell[][] = Array.from({ length: rows }, () => []);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const slot = row * columns + column;
      const root = find(slot);
      if (root !== slot) continue;
      let colSpan = 1;
      while (column + colSpan < columns && find(slot + colSpan) === root) colSpan++;
      let rowSpan = 1;
      while (row + rowSpan < rows && find(slot + rowSpan * columns) === root) rowSpan++;
      (cells[row] as SpannedCell[]).push({ text: textOf(byCell.get(root) ?? []), colSpan, rowSpan });
    }
  }
  const table = compact(layOutTable(cells));
  return isTable(table) ? placed(table, inside) : undefined;
};

const placed = (rows: string[][], items: readonly Item[]): PageTable => {
  const runs = items.map((item) => item.index);
  return { rows, runs, at: Math.min(...runs) };
};

/** Sets of two or more horizontal rules of one extent that no grid uses: the bounds of rule-bounded tables. */
const ruledBands = (horizontal: readonly Rule[], used: ReadonlySet<Rule>): Rule[][] => {
  const free = horizontal.filter((rule) => !used.has(rule)).sort((a, b) => b.at - a.at);
  const groups: Rule[][] = [];
  for (const rule of free) {
    const width = rule.to - rule.from;
    const group = groups.find((candidate) => {
      const first = candidate[0] as Rule;
      const tolerance = SAME_EXTENT * Math.max(width, first.to - first.from);
      return Math.abs(first.from - rule.from) <= tolerance && Math.abs(first.to - rule.to) <= tolerance;
    });
    if (group) group.push(rule);
    else groups.push([rule]);
  }
  return groups.filter((group) => group.length >= 2);
};

/** Runs on one line (baselines within half an em), top to bottom. */
const linesOf = (items: readonly Item[]): Item[][] => {
  const lines: Item[][] = [];
  for (const item of [...items].sort((a, b) => b.y - a.y)) {
    const line = lines.find((candidate) => Math.abs((candidate[0] as Item).y - item.y) <= SAME_LINE_EM * item.size);
    if (line) line.push(item);
    else lines.push([item]);
  }
  return lines;
};

/** Column bounds: where no run of the region crosses, a gap of at least COLUMN_GAP_EM. */
const columnsOf = (items: readonly Item[]): Array<[number, number]> => {
  const sizes = items.map((item) => item.size).sort((a, b) => a - b);
  const gap = COLUMN_GAP_EM * (sizes[Math.floor(sizes.length / 2)] ?? 10);
  const spans: Array<[number, number]> = [];
  for (const item of [...items].sort((a, b) => a.x0 - b.x0)) {
    const last = spans[spans.length - 1];
    if (last && item.x0 < last[1] + gap) last[1] = Math.max(last[1], item.x1);
    else spans.push([item.x0, item.x1]);
  }
  return spans;
};

/** A table bounded by horizontal rules: columns from the gaps through all its lines, rows from rules or lines. */
const readRuledBand = (band: readonly Rule[], items: readonly Item[]): PageTable | undefined => {
  const ys = distinct(band.map((rule) => rule.at)).reverse();
  const top = ys[0] as number;
  const bottom = ys[ys.length - 1] as number;
  const left = Math.min(...band.map((rule) => rule.from)) - SNAP;
  const right = Math.max(...band.map((rule) => rule.to)) + SNAP;
  const inside = items.filter((item) => {
    const y = middleOf(item);
    return item.x0 >= left && item.x1 <= right && y < top && y > bottom;
  });
  // A framed listing in a monospaced face is code, however its indents line up.
  if (inside.filter((item) => item.mono).length * 2 > inside.length) return undefined;
  const columns = columnsOf(inside);
  if (columns.length < 2) return undefined;
  const lines = linesOf(inside);
  // Rows: the bands between rules when none holds two lines (rules between rows), else each line.
  const bands = ys.slice(0, -1).map((upper, at) => [upper, ys[at + 1] as number] as const);
  const perBand = bands.map(([upper, lower]) =>
    lines.filter((line) => middleOf(line[0] as Item) < upper && middleOf(line[0] as Item) > lower),
  );
  const byRules = perBand.every((group) => group.length <= 1);
  const rowsOfItems: Item[][] = byRules ? perBand.filter((group) => group.length).map((group) => group.flat()) : lines;
  const rows = rowsOfItems.map((row) =>
    columns.map(([from, to]) => textOf(row.filter((item) => item.x0 >= from - SNAP && item.x1 <= to + SNAP))),
  );
  const table = compact(rows);
  // Most rows of a table fill two cells or more; a framed code listing or note whose indents look like columns does not.
  const full = table.filter((row) => row.filter(Boolean).length >= 2).length;
  return isTable(table) && full >= MIN_FULL_ROWS_SHARE * table.length ? placed(table, inside) : undefined;
};

export const findTables = (runs: readonly TextRun[], rules: readonly Rule[]): PageTable[] => {
  if (!rules.length) return [];
  const quarter = mainQuarterOf(runs);
  const items = itemsOf(runs, quarter);
  const upright = uprightRules(rules, quarter);
  const horizontal = merged(upright.filter((rule) => rule.kind === 'h'));
  const vertical = merged(upright.filter((rule) => rule.kind === 'v'));
  // Crossing tests are pairs of rules: a page of thousands of each is read as text.
  if (horizontal.length * vertical.length > MAX_RULE_PAIRS) return [];
  const tables: PageTable[] = [];
  const usedRules = new Set<Rule>();
  const taken = new Set<number>();
  const free = () => items.filter((item) => !taken.has(item.index));
  for (const grid of gridsOf(horizontal, vertical)) {
    const table = readGrid(grid, free());
    for (const rule of grid.h) usedRules.add(rule);
    if (!table) continue;
    tables.push(table);
    for (const index of table.runs) taken.add(index);
  }
  for (const band of ruledBands(horizontal, usedRules)) {
    const table = readRuledBand(band, free());
    if (!table) continue;
    tables.push(table);
    for (const index of table.runs) taken.add(index);
  }
  return tables;
};
