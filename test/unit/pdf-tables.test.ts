import { describe, expect, it } from 'vitest';
import { OPTION_DEFAULTS } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import type { TextRun } from '../../lambdas/documents/loaders/pdf-structure.js';
import type { Rule } from '../../lambdas/documents/pdf/rules.js';
import { findTables } from '../../lambdas/documents/pdf/tables.js';
import { laidOutPdf, paragraph, type PageSpec, type PlacedText, type Rule as DrawnRule } from '../support/pdf.js';

const markdownOf = async (pages: PageSpec[]) => {
  const result = await processDocument(
    { bytes: laidOutPdf(pages), filename: 'tables.pdf' },
    { ...OPTION_DEFAULTS, output_format: 'markdown' },
  );
  return result.documents.map((document) => document.page_content).join('\n\n');
};

const tableLines = (markdown: string) => markdown.split('\n').filter((line) => line.startsWith('|'));

/** Rules of a grid: horizontal ones at `ys` from x0 to x1, vertical ones at `xs` from the lowest y to the highest. */
const gridRules = (xs: number[], ys: number[]): DrawnRule[] => [
  ...ys.map((y) => ({ x0: xs[0]!, y0: y, x1: xs[xs.length - 1]!, y1: y })),
  ...xs.map((x) => ({ x0: x, y0: ys[ys.length - 1]!, x1: x, y1: ys[0]! })),
];

const INTRO = paragraph(['A paragraph before the table, long enough to set the body text size.'], 740);

describe('PDF tables from ruling lines', () => {
  it('reads a ruled grid, a header cell over two columns and a cell over two rows under their columns', async () => {
    // Columns at 72 | 172 | 272 | 322 | 372; rows between 700, 680, 660, 640.
    const rules: DrawnRule[] = [
      ...[700, 680, 640].map((y) => ({ x0: 72, y0: y, x1: 372, y1: y })),
      // Between the body rows, no rule under "2025" (it spans both).
      { x0: 172, y0: 660, x1: 372, y1: 660 },
      ...[72, 172, 272, 372].map((x) => ({ x0: x, y0: 640, x1: x, y1: 700 })),
      // "Money" spans the last two columns: the rule between them starts below the header.
      { x0: 322, y0: 640, x1: 322, y1: 680 },
    ];
    const cell = (text: string, x: number, y: number): PlacedText => ({ text, x: x + 4, y: y + 6 });
    const texts = [
      cell('Year', 72, 680),
      cell('Month', 172, 680),
      cell('Money', 272, 680),
      cell('2025', 72, 650),
      cell('January', 172, 660),
      cell('$134', 272, 660),
      cell('$162', 322, 660),
      cell('February', 172, 640),
      cell('$150', 272, 640),
      cell('$155', 322, 640),
    ];
    const lines = tableLines(await markdownOf([{ texts: [...INTRO, ...texts], rules }]));
    expect(lines).toEqual([
      '| Year | Month | Money | Money |',
      '| --- | --- | --- | --- |',
      '| 2025 | January | $134 | $162 |',
      '| 2025 | February | $150 | $155 |',
    ]);
  });

  it('reads a table ruled above, under its header and below (booktabs), columns from the gaps through every line', async () => {
    const rules: DrawnRule[] = [700, 684, 640].map((y) => ({ x0: 72, y0: y, x1: 400, y1: y }));
    const row = (y: number, ...cells: string[]): PlacedText[] =>
      cells.map((text, index) => ({ text, x: 76 + index * 110, y }));
    const texts = [
      ...row(689, 'Model', 'Layers', 'Score'),
      ...row(671, 'OTSL small', '6', '0.965'),
      ...row(657, 'HTML large', '12', '0.934'),
      ...row(643, 'Both', '4', '0.938'),
    ];
    const lines = tableLines(await markdownOf([{ texts: [...INTRO, ...texts], rules }]));
    expect(lines).toEqual([
      '| Model | Layers | Score |',
      '| --- | --- | --- |',
      '| OTSL small | 6 | 0.965 |',
      '| HTML large | 12 | 0.934 |',
      '| Both | 4 | 0.938 |',
    ]);
  });

  it('reads a framed code listing as text, not as a table, whether its indents look like columns or its face is monospaced', async () => {
    const rules: DrawnRule[] = [700, 630].map((y) => ({ x0: 72, y0: y, x1: 400, y1: y }));
    const texts: PlacedText[] = [
      { text: 'SELECT', x: 76, y: 688 },
      { text: 'name,', x: 140, y: 688 },
      { text: 'size,', x: 140, y: 676 },
      { text: 'kind', x: 140, y: 664 },
      { text: 'FROM', x: 76, y: 652 },
      { text: 'files;', x: 140, y: 652 },
    ].map((text) => ({ ...text, mono: true }));
    const markdown = await markdownOf([{ texts: [...INTRO, ...texts], rules }]);
    expect(tableLines(markdown)).toEqual([]);
    expect(markdown).toContain('SELECT');
  });

  it('reads a table nested in a cell as that cell text', async () => {
    const outer = gridRules([72, 272, 472], [700, 680, 600]);
    const inner = gridRules([290, 340, 390], [660, 640, 620]);
    const texts: PlacedText[] = [
      { text: 'Column A', x: 76, y: 686 },
      { text: 'Column B', x: 276, y: 686 },
      { text: 'Plain cell', x: 76, y: 650 },
      { text: 'A', x: 294, y: 646 },
      { text: 'B', x: 344, y: 646 },
      { text: '1', x: 294, y: 626 },
      { text: '2', x: 344, y: 626 },
    ];
    const lines = tableLines(await markdownOf([{ texts: [...INTRO, ...texts], rules: [...outer, ...inner] }]));
    expect(lines).toEqual(['| Column A | Column B |', '| --- | --- |', '| Plain cell | A B 1 2 |']);
  });
});

describe('PDF tables from aligned text and tables of contents', () => {
  it('puts right-aligned numbers under their left-aligned header', async () => {
    const texts: PlacedText[] = [
      { text: 'Year', x: 72, y: 700, bold: true },
      { text: 'Ducks seen', x: 190, y: 700, bold: true },
      ...['2019', '2020', '2021'].flatMap((year, index) => [
        { text: year, x: 160, y: 686 - index * 14 },
        { text: String(120 + index * 15), x: 260, y: 686 - index * 14 },
      ]),
    ];
    const lines = tableLines(await markdownOf([{ texts: [...INTRO, ...texts] }]));
    expect(lines).toEqual([
      '| Year | Ducks seen |',
      '| --- | --- |',
      '| 2019 | 120 |',
      '| 2020 | 135 |',
      '| 2021 | 150 |',
    ]);
  });

  it('reads a table of contents as entries and pages', async () => {
    const entries = [
      'Preface . . . . . . . . . . . xi',
      '1 Introduction . . . . . . . . 1',
      '1.1 Scope ........................ 3',
    ];
    const lines = tableLines(await markdownOf([{ texts: [...INTRO, ...paragraph(entries, 700)] }]));
    expect(lines).toEqual([
      '| Contents | Page |',
      '| --- | --- |',
      '| Preface | xi |',
      '| 1 Introduction | 1 |',
      '| 1.1 Scope | 3 |',
    ]);
  });
});

describe('the table finder (pure)', () => {
  const run = (str: string, x: number, y: number, quarter = 0): TextRun => {
    const [cos, sin] = [Math.round(Math.cos((quarter * Math.PI) / 2)), Math.round(Math.sin((quarter * Math.PI) / 2))];
    return { str, transform: [10 * cos, 10 * sin, -10 * sin, 10 * cos, x, y], width: str.length * 5 };
  };
  const h = (at: number, from: number, to: number): Rule => ({ kind: 'h', at, from, to });
  const v = (at: number, from: number, to: number): Rule => ({ kind: 'v', at, from, to });

  it('reads a grid on a page whose text runs up its height (a slide stored turned)', () => {
    // Text turned a quarter (reading upwards): the table's rows are vertical bands, its columns horizontal ones.
    const runs = [
      run('Name', 106, 104, 1),
      run('Size', 106, 204, 1),
      run('alpha', 126, 104, 1),
      run('10', 126, 204, 1),
    ];
    const rules = [
      v(90, 100, 300),
      v(110, 100, 300),
      v(130, 100, 300),
      h(100, 90, 130),
      h(200, 90, 130),
      h(300, 90, 130),
    ];
    expect(findTables(runs, rules).map((table) => table.rows)).toEqual([
      [
        ['Name', 'Size'],
        ['alpha', '10'],
      ],
    ]);
  });

  it('keeps a short rule under a spanned header (it crosses the long column rules), so the header keeps its two rows', () => {
    // Five columns; "Money" spans the second and third, and a rule under it alone (two fifths of the width) parts it from "in | out".
    const runs = [
      run('Item', 10, 48),
      run('Money', 110, 48),
      run('A', 310, 48),
      run('B', 410, 48),
      run('in', 110, 33),
      run('out', 210, 33),
      run('x', 10, 10),
      run('1', 110, 10),
      run('2', 210, 10),
      run('3', 310, 10),
      run('4', 410, 10),
    ];
    const rules = [
      h(60, 0, 500),
      h(45, 100, 300),
      h(30, 0, 500),
      h(0, 0, 500),
      v(100, 0, 60),
      v(200, 0, 45),
      v(300, 0, 60),
      v(400, 0, 60),
    ];
    expect(findTables(runs, rules).map((table) => table.rows)).toEqual([
      [
        ['Item', 'Money', 'Money', 'A', 'B'],
        ['Item', 'in', 'out', 'A', 'B'],
        ['x', '1', '2', '3', '4'],
      ],
    ]);
  });

  it('reads nothing from a page of thousands of crossing rules, nor from a lone frame', () => {
    const many = Array.from({ length: 1100 }, (_, index) => [h(index, 0, 2000), v(index, 0, 2000)]).flat();
    expect(findTables([run('x', 5, 5)], many)).toEqual([]);
    const frame = [h(100, 50, 500), h(700, 50, 500), v(50, 100, 700), v(500, 100, 700)];
    expect(findTables([run('Just a boxed paragraph of text', 60, 400)], frame)).toEqual([]);
  });
});
