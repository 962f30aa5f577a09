import { zipOf } from '../../fuzz/hostile.js';

/**
 * Workbooks written part by part, so a test says exactly what the XML holds
 * (cell types, styles, references, hostile markup). exceljs writes the
 * realistic ones (see formats-xlsx.test.ts).
 */

const MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const PACKAGE_REL = 'http://schemas.openxmlformats.org/package/2006/relationships';

export interface SheetSpec {
  name: string;
  /** The inside of `<sheetData>`: `<row>` elements (see `row` and `cell`). */
  rows?: string;
  /** After `<sheetData>` (`<mergeCells>`…). */
  after?: string;
  /** A whole worksheet part instead of one made from `rows`. */
  xml?: string | Uint8Array;
  state?: 'hidden' | 'veryHidden';
  /** A chart sheet: listed in the workbook, no cells. */
  chart?: boolean;
  /** The part's file name under xl/worksheets/ (default: sheet<n>.xml in list order). */
  file?: string;
}

export interface WorkbookSpec {
  sheets: SheetSpec[];
  /** Shared strings as plain texts, or a whole sharedStrings part. */
  sharedStrings?: string[] | { xml: string | Uint8Array };
  /** Number formats by id (164 and up are custom) and the `numFmtId` of each cell format (`s`), in order. */
  numFmts?: Record<number, string>;
  cellXfs?: number[];
  date1904?: boolean;
  /** Parts to leave out of the archive. */
  omit?: string[];
}

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** `<c>` with a reference (or none), a type, a style and a raw value (`<v>`) or inline text (`<is>`). */
export const cell = (
  ref: string | undefined,
  value: string,
  { t, s, f, inline }: { t?: string; s?: number; f?: string; inline?: boolean } = {},
): string => {
  const attributes = `${ref === undefined ? '' : ` r="${ref}"`}${t ? ` t="${t}"` : ''}${s === undefined ? '' : ` s="${s}"`}`;
  const formula = f ? `<f>${escapeXml(f)}</f>` : '';
  const body = inline ? `<is><t>${escapeXml(value)}</t></is>` : `<v>${escapeXml(value)}</v>`;
  return `<c${inline ? `${attributes} t="inlineStr"` : attributes}>${formula}${body}</c>`;
};

export const row = (r: number | undefined, ...cells: string[]): string =>
  `<row${r === undefined ? '' : ` r="${r}"`}>${cells.join('')}</row>`;

export const worksheetXml = (rows: string, after = '') =>
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="${MAIN}" xmlns:r="${REL}"><sheetData>${rows}</sheetData>${after}</worksheet>`;

export const sharedStringsXml = (strings: string[]) =>
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="${MAIN}" count="${strings.length}" uniqueCount="${strings.length}">${strings
    .map((text) => `<si><t xml:space="preserve">${escapeXml(text)}</t></si>`)
    .join('')}</sst>`;

const stylesXml = (numFmts: Record<number, string>, cellXfs: number[]) => {
  const formats = Object.entries(numFmts)
    .map(([id, code]) => `<numFmt numFmtId="${id}" formatCode="${escapeXml(code)}"/>`)
    .join('');
  const xfs = [0, ...cellXfs].map((id) => `<xf numFmtId="${id}" fontId="0" fillId="0" borderId="0" xfId="0"/>`);
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="${MAIN}"><numFmts count="${Object.keys(numFmts).length}">${formats}</numFmts><cellXfs count="${xfs.length}">${xfs.join('')}</cellXfs></styleSheet>`;
};

/**
 * An XLSX archive. Cell format 0 is General; `cellXfs[i]` is cell format
 * i + 1 (so `s="1"` is the first one given).
 */
export const xlsxOf = async (spec: WorkbookSpec): Promise<Buffer> => {
  const relationships: string[] = [];
  const parts: Array<[string, string | Uint8Array]> = [];
  const sheets = spec.sheets.map((sheet, index) => {
    const id = `rId${index + 1}`;
    if (sheet.chart) {
      relationships.push(
        `<Relationship Id="${id}" Type="${REL}/chartsheet" Target="chartsheets/sheet${index + 1}.xml"/>`,
      );
      parts.push([`xl/chartsheets/sheet${index + 1}.xml`, `<chartsheet xmlns="${MAIN}"/>`]);
    } else {
      const file = sheet.file ?? `sheet${index + 1}.xml`;
      relationships.push(`<Relationship Id="${id}" Type="${REL}/worksheet" Target="worksheets/${file}"/>`);
      parts.push([`xl/worksheets/${file}`, sheet.xml ?? worksheetXml(sheet.rows ?? '', sheet.after)]);
    }
    const state = sheet.state ? ` state="${sheet.state}"` : '';
    return `<sheet name="${escapeXml(sheet.name)}" sheetId="${index + 1}"${state} r:id="${id}"/>`;
  });
  if (spec.sharedStrings) {
    relationships.push(`<Relationship Id="rIdS" Type="${REL}/sharedStrings" Target="sharedStrings.xml"/>`);
    const xml = Array.isArray(spec.sharedStrings) ? sharedStringsXml(spec.sharedStrings) : spec.sharedStrings.xml;
    parts.push(['xl/sharedStrings.xml', xml]);
  }
  if (spec.numFmts || spec.cellXfs) {
    relationships.push(`<Relationship Id="rIdT" Type="${REL}/styles" Target="styles.xml"/>`);
    parts.push(['xl/styles.xml', stylesXml(spec.numFmts ?? {}, spec.cellXfs ?? [])]);
  }
  const workbookPr = spec.date1904 ? '<workbookPr date1904="1"/>' : '<workbookPr/>';
  parts.push(
    [
      '[Content_Types].xml',
      '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
    ],
    [
      '_rels/.rels',
      `<Relationships xmlns="${PACKAGE_REL}"><Relationship Id="rId1" Type="${REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
    ],
    [
      'xl/workbook.xml',
      `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="${MAIN}" xmlns:r="${REL}">${workbookPr}<sheets>${sheets.join('')}</sheets></workbook>`,
    ],
    ['xl/_rels/workbook.xml.rels', `<Relationships xmlns="${PACKAGE_REL}">${relationships.join('')}</Relationships>`],
  );
  const omitted = new Set(spec.omit ?? []);
  return zipOf(parts.filter(([name]) => !omitted.has(name)));
};

/** A workbook of `rows` × `columns` cells all showing one shared string of `length` characters (4 KB for 300 × 100 × 100 000). */
export const sharedStringBombXlsx = (rows = 300, columns = 100, length = 100_000): Promise<Buffer> => {
  const cells = Array.from({ length: columns }, () => cell(undefined, '0', { t: 's' })).join('');
  return xlsxOf({
    sheets: [{ name: 'S', rows: Array.from({ length: rows }, () => row(undefined, cells)).join('') }],
    sharedStrings: ['x'.repeat(length)],
  });
};
