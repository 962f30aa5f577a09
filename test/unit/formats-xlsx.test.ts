import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../lambdas/errors.js';
import { DEFAULT_LIMITS, type ProcessingLimits } from '../../lambdas/documents/limits.js';
import { loadXlsx, numberKindOf } from '../../lambdas/documents/loaders/xlsx.js';
import { OPTION_DEFAULTS, type ProcessingOptions } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { withHeapWatch } from '../support/office-files.js';
import {
  cell,
  chartDrawingXml,
  chartXml,
  relsXml,
  row,
  sharedStringsXml,
  worksheetXml,
  xlsxOf,
  type SheetSpec,
} from '../support/xlsx.js';
import { failureOf } from '../support/failures.js';

const MB = 1024 * 1024;

const read = (bytes: Buffer, options: Partial<ProcessingOptions> = {}, limits: Partial<ProcessingLimits> = {}) =>
  processDocument({ bytes, filename: 'book.xlsx' }, { ...OPTION_DEFAULTS, ...options }, { limits });

const textOf = async (bytes: Buffer, options: Partial<ProcessingOptions> = {}) =>
  (await read(bytes, options)).documents.map((document) => document.page_content);

/** One sheet of the given rows, its text. */
const sheetText = async (rows: string, spec: Partial<Parameters<typeof xlsxOf>[0]> = {}, markdown = false) => {
  const texts = await textOf(
    await xlsxOf({ sheets: [{ name: 'S', rows }], ...spec }),
    markdown ? { output_format: 'markdown' } : {},
  );
  expect(texts).toHaveLength(1);
  return texts[0] as string;
};

const directInput = (bytes: Buffer) => ({
  bytes,
  filename: 'book.xlsx',
  source: 'book.xlsx',
  limits: DEFAULT_LIMITS,
  outputFormat: 'text' as const,
  checkpoint: async () => {},
});

/** The loader itself, for archives that format detection would not take for a workbook. */
const loadDirectly = (bytes: Buffer) =>
  loadXlsx({
    bytes,
    filename: 'book.xlsx',
    source: 'book.xlsx',
    limits: DEFAULT_LIMITS,
    outputFormat: 'text',
    checkpoint: async () => {},
  });

const DUCKS = {
  title: 'Ducks by year',
  series: [
    { name: 'Fresh', categories: ['2019', '2020'], values: [120, 135] },
    { name: 'Salt', categories: ['2019', '2020'], values: [80, 95.5] },
  ],
};

describe('XLSX charts and comments', () => {
  it("reads a chart sheet's chart as its kind, title and series table, and a worksheet's chart after its cells", async () => {
    const bytes = await xlsxOf({
      sheets: [
        { name: 'Data', rows: row(1, cell('A1', 'year', { t: 'str' })) },
        { name: 'Duck Chart', chart: true },
      ],
      parts: {
        'xl/worksheets/_rels/sheet1.xml.rels': relsXml([['rId1', 'drawing', '../drawings/drawing1.xml']]),
        'xl/chartsheets/_rels/sheet2.xml.rels': relsXml([['rId1', 'drawing', '../drawings/drawing2.xml']]),
        'xl/drawings/drawing1.xml': chartDrawingXml(),
        'xl/drawings/_rels/drawing1.xml.rels': relsXml([['rId1', 'chart', '../charts/chart1.xml']]),
        'xl/drawings/drawing2.xml': chartDrawingXml(),
        'xl/drawings/_rels/drawing2.xml.rels': relsXml([['rId1', 'chart', '../charts/chart2.xml']]),
        'xl/charts/chart1.xml': chartXml({ kind: 'line', series: [{ name: 'n', categories: ['a'], values: [1] }] }),
        'xl/charts/chart2.xml': chartXml(DUCKS),
      },
    });
    const result = await read(bytes);
    expect(result.documents.map((document) => [document.metadata.sheet, document.metadata.chart_sheet])).toEqual([
      ['Data', undefined],
      ['Duck Chart', true],
    ]);
    expect(result.documents.map((document) => document.page_content)).toEqual([
      'year\n\nLine chart\n\n\tn\na\t1',
      'Bar chart: Ducks by year\n\n\tFresh\tSalt\n2019\t120\t80\n2020\t135\t95.5',
    ]);
    const markdown = await textOf(bytes, { output_format: 'markdown' });
    expect(markdown[1]).toBe(
      '## Duck Chart\n\nBar chart: Ducks by year\n\n|  | Fresh | Salt |\n| --- | --- | --- |\n| 2019 | 120 | 80 |\n| 2020 | 135 | 95.5 |',
    );
  });

  it('warns of the pictures a sheet draws, with their count', async () => {
    const drawing = `<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"><xdr:oneCellAnchor><xdr:pic/></xdr:oneCellAnchor><xdr:twoCellAnchor><xdr:pic/></xdr:twoCellAnchor></xdr:wsDr>`;
    const bytes = await xlsxOf({
      sheets: [{ name: 'S', rows: row(1, cell('A1', 'x', { t: 'str' })) }],
      parts: {
        'xl/worksheets/_rels/sheet1.xml.rels': relsXml([['rId1', 'drawing', '../drawings/drawing1.xml']]),
        'xl/drawings/drawing1.xml': drawing,
      },
    });
    expect((await read(bytes)).warnings).toEqual([
      {
        code: 'CONTENT_NOT_READ',
        message: 'The workbook holds 2 pictures that were not read: any text they hold is not in the result.',
      },
    ]);
  });

  it('reads comments after their sheet: classic notes with their author, threads with their replies, each once', async () => {
    const classic = `<comments xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><authors><author>Ann Lee</author><author>tc={T1}</author></authors><commentList>
      <comment ref="A1" authorId="0"><text><r><t>Why </t></r><r><t>this?</t></r><rPh><t>ignored</t></rPh></text></comment>
      <comment ref="B2" authorId="1"><text><t>[Threaded comment] Your version of Excel allows you to read this threaded comment</t></text></comment>
    </commentList></comments>`;
    const threads = `<ThreadedComments xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments">
      <threadedComment ref="B2" personId="{P1}" id="{T1}"><text>Too low</text></threadedComment>
      <threadedComment ref="B2" personId="{P2}" id="{T2}" parentId="{T1}"><text>Agreed</text></threadedComment>
    </ThreadedComments>`;
    const persons = `<personList xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments"><person displayName="Bo Chen" id="{P1}"/><person displayName="Cy Diaz" id="{P2}"/></personList>`;
    const bytes = await xlsxOf({
      sheets: [{ name: 'S', rows: row(1, cell('A1', 'x', { t: 'str' })) }],
      workbookParts: [['person', 'persons/person.xml']],
      parts: {
        'xl/worksheets/_rels/sheet1.xml.rels': relsXml([
          ['rId1', 'comments', '../comments1.xml'],
          ['rId2', 'threadedComment', '../threadedComments/threadedComment1.xml'],
        ]),
        'xl/comments1.xml': classic,
        'xl/threadedComments/threadedComment1.xml': threads,
        'xl/persons/person.xml': persons,
      },
    });
    expect(await textOf(bytes)).toEqual([
      'x\n\nComment on B2 (Bo Chen): Too low\n\nReply on B2 (Cy Diaz): Agreed\n\nComment on A1 (Ann Lee): Why this?',
    ]);
  });
});

describe('XLSX sheets', () => {
  it('gives one document per sheet in workbook order, whatever the part names, with sheet and sheet_index', async () => {
    const sheets: SheetSpec[] = [
      { name: 'Zeta', rows: row(1, cell('A1', 'z')), file: 'sheet9.xml' },
      { name: 'Chart', chart: true },
      { name: 'Empty', rows: row(1, cell('A1', '', { t: 'str' })) },
      { name: 'Alpha & Co', rows: row(1, cell('A1', 'a', { t: 'str' })), file: 'sheet1.xml' },
      { name: 'Lookup', rows: row(1, cell('A1', '7')), state: 'hidden' },
    ];
    const result = await read(await xlsxOf({ sheets }));
    expect(result.format).toBe('xlsx');
    expect(result.documents.map((document) => document.metadata)).toEqual([
      { source: 'book.xlsx', filename: 'book.xlsx', sheet: 'Zeta', sheet_index: 0 },
      { source: 'book.xlsx', filename: 'book.xlsx', sheet: 'Alpha & Co', sheet_index: 3 },
      { source: 'book.xlsx', filename: 'book.xlsx', sheet: 'Lookup', sheet_index: 4, hidden: true },
    ]);
    expect(result.documents.map((document) => document.page_content)).toEqual(['z', 'a', '7']);
  });

  it('reads a workbook without any text as no documents', async () => {
    const result = await read(await xlsxOf({ sheets: [{ name: 'S', rows: row(1, '<c r="A1" s="0"/>') }] }));
    expect(result.documents).toEqual([]);
    expect(result.warnings.map((warning) => warning.code)).toContain('NO_TEXT');
  });
});

describe('XLSX cell values', () => {
  it('reads shared strings (rich-text runs joined, phonetic runs left out, _xHHHH_ escapes decoded) and inline strings', async () => {
    const sst = `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
      <si><t>plain</t></si>
      <si><r><rPr><b/></rPr><t>Bold</t></r><r><t xml:space="preserve"> and not</t></r></si>
      <si><t>漢字</t><rPh sb="0" eb="2"><t>かんじ</t></rPh><phoneticPr fontId="1"/></si>
      <si><t>tab_x0009_here _x005F_x0041_</t></si>
    </sst>`;
    const text = await sheetText(
      row(
        1,
        cell('A1', '0', { t: 's' }),
        cell('B1', '1', { t: 's' }),
        cell('C1', '2', { t: 's' }),
        cell('D1', '3', { t: 's' }),
        cell('E1', 'inline text', { inline: true }),
        '<c r="F1" t="inlineStr"><is><r><t>rich</t></r><r><t xml:space="preserve"> inline</t></r></is></c>',
      ),
      { sharedStrings: { xml: sst } },
    );
    expect(text).toBe('plain\tBold and not\t漢字\ttab here _x0041_\tinline text\trich inline');
  });

  it('gives formulas their cached values, booleans, errors and formula strings', async () => {
    const text = await sheetText(
      row(
        1,
        cell('A1', '3', { f: 'SUM(B1:C1)' }),
        cell('B1', '1', { t: 'b' }),
        cell('C1', '0', { t: 'b' }),
        cell('D1', '#N/A', { t: 'e', f: 'VLOOKUP(1,X:X,2,0)' }),
        cell('E1', '#DIV/0!', { t: 'e' }),
        cell('F1', 'abc', { t: 'str', f: 'LOWER("ABC")' }),
        '<c r="G1"><f>NOW()</f></c>',
        cell('H1', 'end', { t: 'str' }),
      ),
    );
    // G1, a formula never calculated, has no value: it is empty, and so column G is left out.
    expect(text).toBe('3\tTRUE\tFALSE\t#N/A\t#DIV/0!\tabc\tend');
  });

  it('writes numbers in their shortest form to 15 significant digits', async () => {
    const values = ['0.30000000000000004', '1.0000000000000002', '2.675', '-0.5', '123456789012', '1E-7', '1.5e3'];
    const text = await sheetText(row(1, ...values.map((value, index) => cell(`${'ABCDEFG'[index]}1`, value))));
    expect(text).toBe('0.3\t1\t2.675\t-0.5\t123456789012\t1e-7\t1500');
  });

  it('writes dates and times as ISO 8601, percentages with %, and other formats as plain numbers', async () => {
    const numFmts = { 164: 'yyyy-mm-dd hh:mm', 165: 'dd/mm/yyyy;@', 166: '0.0%', 167: '[h]:mm:ss', 168: '#,##0.00' };
    // s=1…11 in this order.
    const cellXfs = [14, 22, 21, 164, 165, 9, 10, 166, 167, 168, 20];
    const cells = [
      ['45352', 1, '2024-03-01'],
      ['45352.572916666664', 2, '2024-03-01 13:45'],
      ['0.5729166666666666', 3, '13:45:00'],
      ['45352.572916666664', 4, '2024-03-01 13:45'],
      ['45352', 5, '2024-03-01'],
      ['0.125', 6, '12.5%'],
      ['0.125', 7, '12.5%'],
      ['0.07', 8, '7%'],
      ['1.5', 9, '36:00:00'],
      ['1234.5', 10, '1234.5'],
      ['0.5', 11, '12:00:00'],
      ['60', 1, '1900-02-29'],
      ['61', 1, '1900-03-01'],
      ['-1', 1, '-1'],
    ] as const;
    const rows = cells.map(([value, s], index) => row(index + 1, cell(`A${index + 1}`, value, { s }))).join('');
    const text = await sheetText(
      rows + row(cells.length + 1, cell(`A${cells.length + 1}`, '2024-03-01T00:00:00Z', { t: 'd' })),
      {
        numFmts,
        cellXfs,
      },
    );
    expect(text.split('\n')).toEqual([...cells.map(([, , shown]) => shown), '2024-03-01']);
  });

  it('counts dates from 1904 when the workbook says so', async () => {
    const rows = row(1, cell('A1', '43890', { s: 1 }), cell('B1', '43890.5', { s: 2 }));
    expect(await sheetText(rows, { cellXfs: [14, 22], date1904: true })).toBe('2024-03-01\t2024-03-01 12:00');
    expect(await sheetText(rows, { cellXfs: [14, 22] })).toBe('2020-02-29\t2020-02-29 12:00');
  });

  it('tells date formats from number formats as SheetJS does', () => {
    const dates = [
      'yyyy-mm-dd',
      'd-mmm-yy',
      'mmm-yy',
      'h:mm AM/PM',
      'mm:ss',
      '[$-409]mmmm d, yyyy',
      'hh"h"mm',
      'ge.m.d',
    ];
    const numbers = [
      'General',
      '0.00',
      '#,##0.00',
      '0.00E+00',
      '# ?/?',
      '@',
      '"Date: "0',
      '[Red]0.00',
      '\\d0',
      '[DBNum1]0',
    ];
    expect(dates.map((code) => numberKindOf(code).kind)).toEqual(dates.map(() => 'date'));
    expect(numbers.map((code) => numberKindOf(code).kind)).toEqual(numbers.map(() => 'number'));
    expect(numberKindOf('0.0%').kind).toBe('percent');
    expect(numberKindOf('"100%" 0').kind).toBe('number');
  });
});

describe('XLSX layout', () => {
  it('splits a sheet into its table islands (cells that touch), each with its own empty columns trimmed', async () => {
    const rows = [
      row(3, cell('C3', 'h1', { t: 'str' }), cell('E3', 'h2', { t: 'str' }), cell('G3', 'h3', { t: 'str' })),
      row(4, cell('C4', '1'), cell('G4', '3')),
      row(5, '<c r="D5" s="0"/>'),
      row(6),
      row(7, cell('C7', '4'), cell('E7', '5')),
      row(8, cell('E8', 'x', { t: 'str' })),
      row(12, '<c r="H12"/>'),
    ].join('');
    // Islands in the order of their top-left cells: C3:C4, E3, G3:G4, C7, E7:E8; unstyled empty cells join nothing.
    expect(await sheetText(rows)).toBe('h1\n1\n\nh2\n\nh3\n3\n\n4\n\n5\nx');
  });

  it('reads two tables side by side, and two one above the other, as separate tables', async () => {
    const rows = [
      row(
        1,
        ...['a', 'b', '', 'd', 'e'].map((value, at) => (value ? cell(`${'ABCDE'[at]}1`, value, { t: 'str' }) : '')),
      ),
      row(2, cell('A2', '1'), cell('B2', '2'), cell('D2', '4'), cell('E2', '5')),
      row(4, cell('A4', 'below', { t: 'str' })),
    ].join('');
    expect(await sheetText(rows)).toBe('a\tb\n1\t2\n\nd\te\n4\t5\n\nbelow');
    expect(await sheetText(rows, {}, true)).toBe(
      '## S\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\n| d | e |\n| --- | --- |\n| 4 | 5 |\n\n| below |\n| --- |',
    );
  });

  it("keeps a bordered table's styled blank cells, an uncalculated formula and a merged range inside its island", async () => {
    const styled =
      row(1, cell('A1', 'a', { t: 'str' }), '<c r="B1" s="2"/>', cell('C1', 'c', { t: 'str' })) +
      row(2, cell('A2', '1'), '<c r="B2"><f>NOW()</f></c>', cell('C2', '3'));
    expect(await sheetText(styled)).toBe('a\tc\n1\t3');
    const merged =
      row(1, cell('A1', 'Title', { t: 'str' })) + row(3, cell('C3', 'x', { t: 'str' }), cell('D3', 'y', { t: 'str' }));
    const after = '<mergeCells count="1"><mergeCell ref="A1:D2"/></mergeCells>';
    expect(await textOf(await xlsxOf({ sheets: [{ name: 'S', rows: merged, after }] }))).toEqual(['Title\n\n\tx\ty']);
    expect(await sheetText(merged)).toBe('Title\n\nx\ty');
  });

  it('keeps a wide sparse row unpadded: A1 and XFD1 alone are two islands', async () => {
    const text = await sheetText(row(1, cell('A1', 'first', { t: 'str' }), cell('XFD1', 'last', { t: 'str' })));
    expect(text).toBe('first\n\nlast');
  });

  it('puts a merged value in its top-left cell only', async () => {
    const rows =
      row(1, cell('A1', 'merged', { t: 'str' }), cell('C1', 'c', { t: 'str' })) +
      row(2, cell('A2', 'a', { t: 'str' }), cell('B2', 'b', { t: 'str' }), cell('C2', 'c2', { t: 'str' }));
    const text = await xlsxOf({
      sheets: [{ name: 'S', rows, after: '<mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells>' }],
    });
    expect(await textOf(text)).toEqual(['merged\t\tc\na\tb\tc2']);
  });

  it('places cells and rows without references after the ones before them', async () => {
    const rows =
      row(undefined, cell(undefined, '1'), cell('C1', '3'), cell(undefined, '4')) +
      row(undefined, cell(undefined, '5'));
    // A1 and A2 touch; C1:D1 is an island of its own.
    expect(await sheetText(rows)).toBe('1\n5\n\n3\t4');
  });

  it('reads rows and cells written out of order in order', async () => {
    const rows = row(2, cell('B2', '4'), cell('A2', '3')) + row(1, cell('A1', '1'), cell('B1', '2'));
    expect(await sheetText(rows)).toBe('1\t2\n3\t4');
  });

  it('keeps each row on one line in text output: line breaks and tabs inside a cell become spaces', async () => {
    const text = await sheetText(row(1, cell('A1', 'two\nlines', { t: 'str' }), cell('B1', 'tab\there', { t: 'str' })));
    expect(text).toBe('two lines\ttab here');
  });

  it('writes a GFM table per sheet in markdown output: first row as header, pipes escaped, line breaks as <br>', async () => {
    const rows = [
      row(1, cell('A1', 'name', { t: 'str' }), cell('B1', 'a|b', { t: 'str' })),
      row(2, cell('A2', 'x', { t: 'str' }), cell('B2', 'two\r\nlines', { t: 'str' })),
      row(4, cell('A4', 'back\\slash', { t: 'str' })),
    ].join('');
    expect(await sheetText(rows, {}, true)).toBe(
      '## S\n\n| name | a\\|b |\n| --- | --- |\n| x | two<br>lines |\n\n| back\\\\slash |\n| --- |',
    );
  });
});

describe('XLSX from a real writer (exceljs)', () => {
  const when = (day: number) => new Date(Date.UTC(2024, 0, 1 + day));
  const iso = (date: Date) => date.toISOString().slice(0, 10);

  /** A table of every kind of value, and what each cell should read as. */
  const salesTable = () => {
    const header = ['id', 'product', 'price', 'share', 'sold on', 'in stock', 'total', 'note'];
    const rows: unknown[][] = [];
    const expected: string[][] = [header];
    for (let id = 1; id <= 150; id++) {
      const price = Math.round(id * 137.3) / 100;
      const share = (id % 40) / 80;
      const product = `Prodüct ${id} «${'αβγ'[id % 3]}»`;
      rows.push([
        id,
        product,
        price,
        share,
        when(id),
        id % 3 === 0,
        { formula: `C${id + 1}*2`, result: price * 2 },
        `n${id}`,
      ]);
      expected.push([
        String(id),
        product,
        String(price),
        `${Number((share * 100).toPrecision(15))}%`,
        iso(when(id)),
        id % 3 === 0 ? 'TRUE' : 'FALSE',
        String(Number((price * 2).toPrecision(15))),
        `n${id}`,
      ]);
    }
    return { header, rows, expected };
  };

  const build = async (date1904: boolean) => {
    const workbook = new ExcelJS.Workbook();
    workbook.properties.date1904 = date1904;
    const { header, rows, expected } = salesTable();
    const sales = workbook.addWorksheet('Sales');
    sales.addRow(header);
    for (const values of rows) sales.addRow(values);
    sales.getColumn(4).numFmt = '0.0%';
    sales.getColumn(5).numFmt = 'yyyy-mm-dd';
    const notes = workbook.addWorksheet('Notes', { state: 'hidden' });
    notes.getCell('B2').value = { richText: [{ text: 'Bold', font: { bold: true } }, { text: ' then plain' }] };
    notes.getCell('B3').value = 'merged | piped';
    notes.mergeCells('B3:C3');
    notes.getCell('D3').value = 'after';
    notes.getCell('C4').value = { formula: 'B5/0', result: { error: '#DIV/0!' } };
    return { bytes: Buffer.from(await workbook.xlsx.writeBuffer()), expected };
  };

  it.each([false, true])('recovers every cell of every sheet (1904 dates: %s)', async (date1904) => {
    const { bytes, expected } = await build(date1904);
    const result = await read(bytes);
    expect(result.documents.map((document) => [document.metadata.sheet, document.metadata.sheet_index])).toEqual([
      ['Sales', 0],
      ['Notes', 1],
    ]);
    expect(result.documents[1]?.metadata.hidden).toBe(true);
    const lines = result.documents[0]!.page_content.split('\n').map((line) => line.split('\t'));
    const cells = expected.flat().length;
    const recovered = expected.flatMap((values, r) => values.filter((value, c) => lines[r]?.[c] === value)).length;
    expect(recovered / cells).toBeGreaterThanOrEqual(0.98);
    expect(recovered).toBe(cells);
    expect(result.documents[1]!.page_content).toBe('Bold then plain\nmerged | piped\t\tafter\n\t#DIV/0!');
  });

  it('reads it as GFM tables in markdown output', async () => {
    const { bytes } = await build(false);
    const [sales, notes] = await textOf(bytes, { output_format: 'markdown' });
    expect(sales!.split('\n').slice(0, 5)).toEqual([
      '## Sales',
      '',
      '| id | product | price | share | sold on | in stock | total | note |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      '| 1 | Prodüct 1 «β» | 1.37 | 1.25% | 2024-01-02 | FALSE | 2.74 | n1 |',
    ]);
    expect(notes).toBe(
      '## Notes\n\n| Bold then plain |  |  |\n| --- | --- | --- |\n| merged \\| piped |  | after |\n|  | #DIV/0! |  |',
    );
  });

  it('is read through processDocument: format xlsx, chunks cut between rows and keep the sheet', async () => {
    const { bytes } = await build(false);
    const whole = await read(bytes);
    const split = await processDocument(
      { bytes, filename: 'upload.bin' },
      { ...OPTION_DEFAULTS, split: true, chunk_size: 300, chunk_overlap: 0 },
    );
    expect(split.format).toBe('xlsx');
    const sales = split.documents.filter((chunk) => chunk.metadata.sheet === 'Sales');
    expect(sales.length).toBeGreaterThan(10);
    const parent = whole.documents[0]!.page_content;
    const lines = new Set(parent.split('\n'));
    for (const chunk of sales) {
      expect(chunk.metadata.sheet_index).toBe(0);
      const start = chunk.metadata.start_index as number;
      expect(parent.slice(start, start + chunk.page_content.length)).toBe(chunk.page_content);
      // Rows are shorter than a chunk, so every chunk is whole rows.
      for (const line of chunk.page_content.split('\n')) expect(lines.has(line)).toBe(true);
    }
  });
});

describe('XLSX limits and hostile workbooks', () => {
  const cellsRow = (r: number, count: number) =>
    row(r, ...Array.from({ length: count }, (_, index) => cell(undefined, String(index + 1))));

  it('fails with DOCUMENT_TOO_LARGE past maxSpreadsheetCells, counted while the cells are read', async () => {
    // Past the cap comes a reference no sheet can have: counted after parsing, this would be a parse error.
    const rows = cellsRow(1, 600) + row(2, cell('ZZZZZZZ99999999', '1'));
    const error = await failureOf(
      read(await xlsxOf({ sheets: [{ name: 'S', rows }] }), {}, { maxSpreadsheetCells: 500 }),
    );
    expect(error.code).toBe('DOCUMENT_TOO_LARGE');
    expect(error.message).toContain('limit of 500 cells (maxSpreadsheetCells)');
  });

  it('counts the cap over the whole workbook, and passes at the cap', async () => {
    const sheets = [
      { name: 'A', rows: cellsRow(1, 300) },
      { name: 'B', rows: cellsRow(1, 300) },
    ];
    const bytes = await xlsxOf({ sheets });
    expect((await failureOf(read(bytes, {}, { maxSpreadsheetCells: 500 }))).code).toBe('DOCUMENT_TOO_LARGE');
    expect((await read(bytes, {}, { maxSpreadsheetCells: 600 })).documents).toHaveLength(2);
  });

  it('caps the rows × columns a sparse sheet would be laid out as', async () => {
    // An L of 199 cells (column A and row 1): one island, a 100 × 100 table once laid out.
    const rows = Array.from({ length: 100 }, (_, index) =>
      index === 0
        ? row(1, ...Array.from({ length: 100 }, (_, column) => cell(`${columnName(column)}1`, '1')))
        : row(index + 1, cell(`A${index + 1}`, '1')),
    ).join('');
    const bytes = await xlsxOf({ sheets: [{ name: 'Corner', rows }] });
    const error = await failureOf(read(bytes, {}, { maxSpreadsheetCells: 5000 }));
    expect(error.code).toBe('DOCUMENT_TOO_LARGE');
    expect(error.message).toContain('100 rows × 100 columns');
    expect((await read(bytes, {}, { maxSpreadsheetCells: 10_000 })).documents).toHaveLength(1);
  });

  it('caps the shared strings at the cell cap', async () => {
    const strings = Array.from({ length: 600 }, (_, index) => `s${index}`);
    const bytes = await xlsxOf({
      sheets: [{ name: 'S', rows: row(1, cell('A1', '0', { t: 's' })) }],
      sharedStrings: strings,
    });
    expect((await failureOf(read(bytes, {}, { maxSpreadsheetCells: 500 }))).code).toBe('DOCUMENT_TOO_LARGE');
    expect((await read(bytes, {}, { maxSpreadsheetCells: 600 })).documents[0]?.page_content).toBe('s0');
  });

  it('stops a zip bomb before inflating it', async () => {
    const bomb = await xlsxOf({ sheets: [{ name: 'S', xml: new Uint8Array(64 * MB) }] });
    expect(bomb.length).toBeLessThan(200 * 1024);
    // Measured from here: what the reading costs, not the 64 MB the bomb was made of (collected or not yet).
    const before = process.memoryUsage().rss;
    const error = await failureOf(read(bomb, {}, { maxZipUncompressedBytes: 8 * MB }));
    expect(error.code).toBe('DOCUMENT_TOO_LARGE');
    expect((process.memoryUsage().rss - before) / MB).toBeLessThan(32);
  });

  it('refuses shared strings nested 10 000 deep with a typed failure', async () => {
    const deep = `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si>${'<r>'.repeat(10_000)}<t>x</t>${'</r>'.repeat(10_000)}</si></sst>`;
    const bytes = await xlsxOf({
      sheets: [{ name: 'S', rows: row(1, cell('A1', '0', { t: 's' })) }],
      sharedStrings: { xml: deep },
    });
    const error = await failureOf(read(bytes));
    expect(error.code).toBe('DOCUMENT_PARSE_ERROR');
    expect(error.message).toContain('levels deep');
  });

  it('resolves no entity: neither an external one (XXE) nor one declared inside the part', async () => {
    const doctype = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY word "EXPANDED">]>';
    const sst = `<?xml version="1.0"?>${doctype}<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>a&xxe;b&word;c</t></si><si><t>after</t></si></sst>`;
    const sheet = `<?xml version="1.0"?>${doctype}${worksheetXml(
      row(
        1,
        cell('A1', '0', { t: 's' }),
        '<c r="B1" t="inlineStr"><is><t>&xxe;</t></is></c>',
        cell('C1', '1', { t: 's' }),
      ),
    ).replace(/^<\?xml[^>]*>\n/, '')}`;
    const result = await read(await xlsxOf({ sheets: [{ name: 'S', xml: sheet }], sharedStrings: { xml: sst } }));
    const text = result.documents[0]!.page_content;
    expect(text).not.toContain('root:');
    expect(text).not.toContain('EXPANDED');
    expect(text).toMatch(/^a&xxe;b&word;c\t&xxe;\tafter$/);
  });

  it('refuses a cell or row reference outside the sheet, and reads a cell without one', async () => {
    for (const rows of [
      row(1, cell('ZZZZZZZ99999999', '1')),
      row(99_999_999, cell(undefined, '1')),
      row(1, cell('A0', '1')),
    ]) {
      const error = await failureOf(read(await xlsxOf({ sheets: [{ name: 'S', rows }] })));
      expect(error.code).toBe('DOCUMENT_PARSE_ERROR');
      expect(error.message).toMatch(/outside a sheet/);
    }
    expect(await sheetText(row(1, cell(undefined, 'no reference', { t: 'str' })))).toBe('no reference');
  });

  it('fails with DOCUMENT_PARSE_ERROR on a damaged archive or missing parts', async () => {
    const bytes = await xlsxOf({ sheets: [{ name: 'S', rows: row(1, cell('A1', '1')) }] });
    expect((await failureOf(read(bytes.subarray(0, bytes.length - 40)))).code).toBe('DOCUMENT_PARSE_ERROR');
    // A sheet whose part is missing is skipped; the workbook's other sheets are still read.
    const noSheet = await xlsxOf({
      sheets: [
        { name: 'Gone', rows: row(1, cell('A1', '1')) },
        { name: 'Kept', rows: row(1, cell('A1', '2')) },
      ],
      omit: ['xl/worksheets/sheet1.xml'],
    });
    const kept = await read(noSheet);
    expect(kept.documents.map((document) => [document.metadata.sheet, document.page_content])).toEqual([['Kept', '2']]);
    const noWorkbook = await xlsxOf({ sheets: [{ name: 'S', rows: '' }], omit: ['xl/workbook.xml'] });
    expect((await failureOf(loadDirectly(noWorkbook))).code).toBe('DOCUMENT_PARSE_ERROR');
    const notXml = await xlsxOf({ sheets: [{ name: 'S', xml: sharedStringsXml(['not a sheet']) }] });
    expect((await read(notXml)).documents).toEqual([]);
  });

  it('fails with DOCUMENT_TOO_LARGE on one large shared string in every cell, before the text is built', async () => {
    // 4 KB of file: a 100 KB string referenced by 300 × 100 cells would be 3 billion characters.
    const cells = Array.from({ length: 100 }, () => cell(undefined, '0', { t: 's' })).join('');
    const bytes = await xlsxOf({
      sheets: [{ name: 'S', rows: Array.from({ length: 300 }, () => row(undefined, cells)).join('') }],
      sharedStrings: ['x'.repeat(100_000)],
    });
    expect(bytes.length).toBeLessThan(16 * 1024);
    const { result, growth } = await withHeapWatch((checkpoint) => loadXlsx({ ...directInput(bytes), checkpoint }));
    expect(result).toBeInstanceOf(AppError);
    expect((result as AppError).code).toBe('DOCUMENT_TOO_LARGE');
    expect((result as AppError).message).toMatch(/maxOutputCharacters/);
    expect(growth).toBeLessThan(100 * MB);
    // The budget is the workbook's: a smaller one stops a smaller workbook, at the cell that crosses it.
    const small = await xlsxOf({ sheets: [{ name: 'S', rows: row(1, cell('A1', 'abcd', { t: 'str' })) }] });
    const budget = (maxOutputCharacters: number) => ({ ...DEFAULT_LIMITS, maxOutputCharacters });
    expect((await loadXlsx({ ...directInput(small), limits: budget(5) })).documents).toHaveLength(1);
    expect((await failureOf(loadXlsx({ ...directInput(small), limits: budget(4) }))).code).toBe('DOCUMENT_TOO_LARGE');
  });

  it('drops control characters and lone surrogates written as _xHHHH_, keeping tabs, line breaks and pairs', async () => {
    const text = await sheetText(
      row(1, cell('A1', 'a_x0000_b_x0007_c_xD800_d_xDC00_e_xD83D__xDE00_f_x0009_g', { t: 'str' })),
    );
    expect(text).toBe('abcde\u{1F600}f g');
  });
});

const columnName = (index: number): string =>
  index < 26
    ? String.fromCharCode(65 + index)
    : columnName(Math.floor(index / 26) - 1) + String.fromCharCode(65 + (index % 26));
