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
  /** More parts (a sheet's `.rels`, drawings, charts, comments), by path. */
  parts?: Record<string, string | Uint8Array>;
  /** More workbook relationships: `[type's last segment, target]`. */
  workbookParts?: Array<[string, string]>;
}

const CHART = 'http://schemas.openxmlformats.org/drawingml/2006/chart';
const DRAWING_MAIN = 'http://schemas.openxmlformats.org/drawingml/2006/main';

/** A part's relationships: `[id, type's last segment, target]`. */
export const relsXml = (relationships: Array<[string, string, string]>) =>
  `<Relationships xmlns="${PACKAGE_REL}">${relationships
    .map(([id, type, target]) => `<Relationship Id="${id}" Type="${REL}/${type}" Target="${target}"/>`)
    .join('')}</Relationships>`;

export interface ChartSpec {
  title?: string;
  kind?: string;
  series: Array<{ name: string; categories: string[]; values: number[] }>;
}

/** A DrawingML chart part (`c:chartSpace`) with cached series values, as office writers save them. */
export const chartXml = ({ title, kind = 'bar', series }: ChartSpec) => {
  const points = (values: Array<string | number>) =>
    `<c:ptCount val="${values.length}"/>${values.map((value, idx) => `<c:pt idx="${idx}"><c:v>${escapeXml(String(value))}</c:v></c:pt>`).join('')}`;
  const titleXml = title
    ? `<c:title><c:tx><c:rich><a:bodyPr/><a:p><a:r><a:t>${escapeXml(title)}</a:t></a:r></a:p></c:rich></c:tx></c:title>`
    : '';
  const seriesXml = series
    .map(
      (entry, index) =>
        `<c:ser><c:idx val="${index}"/><c:tx><c:strRef><c:f>S!$B$1</c:f><c:strCache>${points([entry.name])}</c:strCache></c:strRef></c:tx>` +
        `<c:cat><c:strRef><c:f>S!$A$2</c:f><c:strCache>${points(entry.categories)}</c:strCache></c:strRef></c:cat>` +
        `<c:val><c:numRef><c:f>S!$B$2</c:f><c:numCache><c:formatCode>General</c:formatCode>${points(entry.values)}</c:numCache></c:numRef></c:val></c:ser>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<c:chartSpace xmlns:c="${CHART}" xmlns:a="${DRAWING_MAIN}" xmlns:r="${REL}"><c:chart>${titleXml}<c:plotArea><c:${kind}Chart>${seriesXml}</c:${kind}Chart></c:plotArea></c:chart></c:chartSpace>`;
};

/** A spreadsheet drawing holding one chart (relationship `rId1`). */
export const chartDrawingXml = () =>
  `<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" xmlns:a="${DRAWING_MAIN}" xmlns:r="${REL}"><xdr:twoCellAnchor><xdr:graphicFrame><a:graphic><a:graphicData uri="${CHART}"><c:chart xmlns:c="${CHART}" r:id="rId1"/></a:graphicData></a:graphic></xdr:graphicFrame></xdr:twoCellAnchor></xdr:wsDr>`;

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
  for (const [index, [type, target]] of (spec.workbookParts ?? []).entries()) {
    relationships.push(`<Relationship Id="rIdX${index}" Type="${REL}/${type}" Target="${target}"/>`);
  }
  parts.push(...Object.entries(spec.parts ?? {}));
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
