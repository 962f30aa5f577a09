import type { Element, Document as XmlDocument } from 'domhandler';
import { Parser } from 'htmlparser2';
import type { Document } from '../document.js';
import { decodeText } from '../encoding.js';
import { AppError } from '../../errors.js';
import { OutputBudget, type ProcessingLimits } from '../limits.js';
import { baseMetadata, notReadWarnings, type LoadInput, type Loader } from './types.js';
import { chartBlocks, readChart, type Chart } from './chart.js';
import { inlineText, textOf } from './office-blocks.js';
import { kindOf, relationshipsOf, targetsOf } from './ooxml.js';
import { islandsOf, rangeOf, type SheetRow } from './sheet-islands.js';
import { attribute, childrenNamed, descendants, readXmlPart } from './xml.js';
import { ZipArchive } from './zip.js';
import { figureMarkdown } from '../figures/captions.js';

/**
 * XLSX: one document per sheet, in workbook order, read from the workbook's
 * XML through the capped zip reader (docs/results.md, "Processing result").
 *
 * - A row is one line: cells joined by a tab in `text` output (a value keeps
 *   its column, as in a TSV; empty cells at the end of a row are left out),
 *   a GFM table (first row as header) in `markdown` output.
 * - Empty rows and columns at the edges are trimmed, and so are columns empty
 *   in every row inside the sheet: they carry no text, and without that a
 *   note in column XFD would pad every row with 16 000 empty cells. Empty
 *   rows inside become one blank line in `text` (a paragraph break the
 *   splitter cuts at first) and are left out of the Markdown table, which a
 *   blank line would end.
 * - Formulas give their cached values; numbers their shortest form to 15
 *   significant digits (Excel's precision: 0.1 + 0.2 is `0.3`), percentages
 *   `12.5%`, dates and times ISO 8601 (`2024-03-01`, `2024-03-01 13:45`,
 *   `13:45:00`) in the workbook's date system (1900 or 1904). Other number
 *   formats (thousands separators, currency, fixed decimals) are not applied:
 *   the value stays machine-readable.
 * - Hidden sheets are read (they often hold the lookup tables formulas use),
 *   with `hidden: true` in their metadata. Chart sheets have no cells; sheets
 *   without text give no document, and `sheet_index` keeps the sheet's
 *   position (0-based, like `chunk_index`).
 *
 * The workbook, its relationships and styles are small and parsed into a
 * tree by xml.ts. Worksheets and the shared strings are streamed through the
 * same parser (htmlparser2 in XML mode: no DTD, no external or custom
 * entities) without a tree: a tree costs about 850 bytes per cell (85 MB for
 * 100 000 cells) and its tag cap would stop a sheet near 400 000 cells, so
 * cells are counted against `maxSpreadsheetCells` as they are read instead.
 * SheetJS (`xlsx` 0.18.5 on npm, with advisories), exceljs and
 * read-excel-file each unzip the file themselves, past the zip-bomb guard
 * (docs/results.md, "Processing result", has the measurements).
 */

const KIND = 'XLSX';
const MAX_COLUMNS = 16_384;
const MAX_ROWS = 1_048_576;
/**
 * Spreadsheet parts nest about 8 levels (worksheet, sheetData, row, c, is,
 * r, t) and extension lists a few more. The parser searches its stack of
 * open elements at every closing tag, matched or not: 4 million stray
 * closing tags under 1000 open elements took 3.2 s, under 60 0.4 s.
 */
const MAX_SHEET_DEPTH = 64;
/** Merged ranges read per sheet (they join table islands); past this many, the rest are not. */
const MAX_MERGES = 10_000;
/** Characters handed to the streaming parser at a time, with a checkpoint between them. */
const PARSE_CHUNK = 1 << 20;

// ---------------------------------------------------------------------------
// Number formats: hand-written rather than SheetJS's `ssf` (24 KB minified,
// last published on npm in 2020). ssf renders Excel's display text (thousands
// separators, currency, month names), which is not wanted here; to tell dates
// from numbers, which is all that is, it and `numberKindOf` agree on the 37
// format codes tried, and on the dates of both systems.

type NumberKind =
  | { kind: 'number' }
  | { kind: 'percent' }
  | { kind: 'date'; date: boolean; time: boolean; seconds: boolean; elapsed?: 'h' | 'm' | 's' };

const NUMBER: NumberKind = { kind: 'number' };
const PERCENT: NumberKind = { kind: 'percent' };
const DATE: NumberKind = { kind: 'date', date: true, time: false, seconds: false };
const TIME: NumberKind = { kind: 'date', date: false, time: true, seconds: true };

/**
 * The built-in formats (ECMA-376 §18.8.30) that are not plain numbers: 14–17
 * dates, 18–21 and 45–47 times, 22 date and time; 27–36 and 50–58 are the
 * East Asian locales' date formats.
 */
const BUILT_IN: ReadonlyMap<number, NumberKind> = new Map<number, NumberKind>([
  [9, PERCENT],
  [10, PERCENT],
  ...[14, 15, 16, 17].map((id): [number, NumberKind] => [id, DATE]),
  [18, { kind: 'date', date: false, time: true, seconds: false }],
  [19, TIME],
  [20, { kind: 'date', date: false, time: true, seconds: false }],
  [21, TIME],
  [22, { kind: 'date', date: true, time: true, seconds: false }],
  [45, TIME],
  [46, { kind: 'date', date: false, time: true, seconds: true, elapsed: 'h' }],
  [47, TIME],
  ...[27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 50, 51, 52, 53, 54, 55, 56, 57, 58].map((id): [number, NumberKind] => [
    id,
    DATE,
  ]),
]);

/**
 * What a custom format code shows a number as. Only its first section
 * (positive numbers) counts; quoted text, escaped and padding characters and
 * bracketed parts (`[Red]`, `[$-409]`, `[<100]`) are not tokens, except the
 * elapsed-time tokens `[h]`, `[mm]`, `[ss]`.
 */
export const numberKindOf = (code: string): NumberKind => {
  const section = code.replace(/"[^"]*"|\\.|[_*]./g, '').split(';')[0] ?? '';
  const elapsed = /\[(h+|m+|s+)\]/i.exec(section)?.[1]?.[0]?.toLowerCase() as 'h' | 'm' | 's' | undefined;
  const tokens = section
    .replace(/\[[^\]]*\]/g, '')
    .toLowerCase()
    .replace(/general|am\/pm|a\/p|e[+-]/g, '');
  if (elapsed) return { kind: 'date', date: false, time: true, seconds: true, elapsed };
  const time = /[hs]/.test(tokens);
  // `m` is minutes next to hours or seconds, else the month; `e` is the (Japanese era) year.
  const date = /[yde]/.test(tokens) || (!time && tokens.includes('m'));
  if (date || time) return { kind: 'date', date, time, seconds: tokens.includes('s') };
  return tokens.includes('%') ? PERCENT : NUMBER;
};

/** The shortest form of a number to 15 significant digits, as Excel keeps them. */
export const formatNumber = (value: number): string => {
  const shortest = String(value);
  // Up to 15 characters cannot hold more than 15 digits; toPrecision is the slow path.
  if (shortest.length <= 15 || (Number.isInteger(value) && Math.abs(value) < 1e15)) return shortest;
  return String(Number(value.toPrecision(15)));
};

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

const DAY_MS = 86_400_000;
/**
 * The 1900 system: serial 1 is 1900-01-01, and serial 60 is the 29 February
 * 1900 that Lotus 1-2-3 counted and Excel kept, so from 61 on the serial is
 * days since 1899-12-30.
 */
const EPOCH_1900 = Date.UTC(1899, 11, 30);
const EPOCH_1904 = Date.UTC(1904, 0, 1);
/** 9999-12-31, the last day Excel shows. */
const LAST_SERIAL_1900 = 2_958_465;
const LAST_SERIAL_1904 = LAST_SERIAL_1900 - 1462;

/** A date serial as ISO 8601, or undefined when Excel would not show it as a date either. */
export const formatDate = (
  serial: number,
  kind: Extract<NumberKind, { kind: 'date' }>,
  date1904: boolean,
): string | undefined => {
  if (!(serial >= 0) || serial >= (date1904 ? LAST_SERIAL_1904 : LAST_SERIAL_1900) + 1) return undefined;
  let days = Math.floor(serial);
  let seconds = Math.round((serial - days) * 86_400);
  if (seconds === 86_400) {
    days += 1;
    seconds = 0;
  }
  const hh = pad(Math.floor(seconds / 3600));
  const mm = pad(Math.floor(seconds / 60) % 60);
  const ss = pad(seconds % 60);
  if (kind.elapsed) {
    const total = days * 86_400 + seconds;
    if (kind.elapsed === 'h') return `${Math.floor(total / 3600)}:${mm}:${ss}`;
    if (kind.elapsed === 'm') return `${Math.floor(total / 60)}:${ss}`;
    return String(total);
  }
  // A time of day alone always has its seconds (`13:45:00`); with a date, only when the format shows them.
  if (!kind.date) return `${hh}:${mm}:${ss}`;
  let day: string;
  if (date1904) day = isoDay(EPOCH_1904 + days * DAY_MS);
  else if (days === 0)
    day = '1900-01-00'; // Excel's own day 0, shown under times without a date
  else if (days === 60) day = '1900-02-29';
  else day = isoDay(EPOCH_1900 + (days < 60 ? days + 1 : days) * DAY_MS);
  return kind.time ? `${day} ${hh}:${mm}${kind.seconds ? `:${ss}` : ''}` : day;
};

const isoDay = (ms: number) => {
  const at = new Date(ms);
  return `${pad(at.getUTCFullYear(), 4)}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())}`;
};

/** A `t="d"` cell (ISO 8601 text in the file) in the same shape as a serial date. */
const formatIsoCell = (value: string): string => {
  const match = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(?::(\d{2}))?)?/.exec(value.trim());
  if (!match) return value.trim();
  const [, day, time, seconds] = match;
  if (!time || (time === '00:00' && (!seconds || seconds === '00'))) return day ?? '';
  return `${day} ${time}${seconds && seconds !== '00' ? `:${seconds}` : ''}`;
};

// ---------------------------------------------------------------------------
// Workbook structure

interface SheetEntry {
  name: string;
  part: string;
  /** A chart sheet: charts, no cells. */
  chartsOnly: boolean;
  hidden: boolean;
  index: number;
}

interface Workbook {
  sheets: SheetEntry[];
  sharedStrings?: string | undefined;
  styles?: string | undefined;
  /** The people threaded comments name (`xl/persons/person.xml`). */
  persons?: string | undefined;
  date1904: boolean;
}

const readXml = (archive: ZipArchive, part: string, input: LoadInput): Promise<XmlDocument> =>
  readXmlPart(archive, part, input.limits, input.checkpoint, KIND);

const workbookPartOf = async (archive: ZipArchive, input: LoadInput): Promise<string> => {
  const root = await relationshipsOf(archive, '', input, KIND);
  const office = [...root.values()].find((relationship) => kindOf(relationship) === 'officeDocument');
  return office && archive.has(office.target) ? office.target : 'xl/workbook.xml';
};

const readWorkbook = async (archive: ZipArchive, input: LoadInput): Promise<Workbook> => {
  const part = await workbookPartOf(archive, input);
  const workbook = await readXml(archive, part, input);
  const relationships = await relationshipsOf(archive, part, input, KIND);
  const typed = (type: string) => [...relationships.values()].find((relationship) => kindOf(relationship) === type);
  const flag = descendants(workbook, 'workbookPr')[0];
  const date1904 = ['1', 'true'].includes(flag ? (attribute(flag, 'date1904') ?? '') : '');
  const list = descendants(workbook, 'sheets')[0];
  const sheets: SheetEntry[] = [];
  (list ? childrenNamed(list, 'sheet') : []).forEach((sheet, index) => {
    const relationship = relationships.get(attribute(sheet, 'id') ?? '');
    if (!relationship || relationship.external) {
      throw new AppError('DOCUMENT_PARSE_ERROR', 'The XLSX file is damaged (a sheet it lists has no part).');
    }
    // Dialog and macro sheets hold nothing to read; chart sheets hold charts and no cells.
    const sheetKind = kindOf(relationship);
    if (sheetKind !== 'worksheet' && sheetKind !== 'chartsheet') return;
    const state = attribute(sheet, 'state');
    sheets.push({
      name: attribute(sheet, 'name') ?? `Sheet${index + 1}`,
      part: relationship.target,
      chartsOnly: sheetKind === 'chartsheet',
      hidden: state === 'hidden' || state === 'veryHidden',
      index,
    });
  });
  const partOf = (type: string, fallback: string) =>
    typed(type)?.target ?? (archive.has(fallback) ? fallback : undefined);
  return {
    sheets,
    sharedStrings: partOf('sharedStrings', 'xl/sharedStrings.xml'),
    styles: partOf('styles', 'xl/styles.xml'),
    persons: typed('person')?.target,
    date1904,
  };
};

/** Each cell format (`s`, an index into `cellXfs`) as what it shows a number as. */
const readStyles = async (archive: ZipArchive, part: string | undefined, input: LoadInput): Promise<NumberKind[]> => {
  if (!part || !archive.has(part)) return [];
  const styles = await readXml(archive, part, input);
  const codes = new Map<number, string>();
  for (const format of descendants(styles, 'numFmt')) {
    codes.set(Number(attribute(format, 'numFmtId')), attribute(format, 'formatCode') ?? '');
  }
  const kinds = new Map<number, NumberKind>();
  const kindOf = (id: number): NumberKind => {
    let kind = kinds.get(id);
    if (!kind) {
      const code = codes.get(id);
      kind = code === undefined ? (BUILT_IN.get(id) ?? NUMBER) : numberKindOf(code);
      kinds.set(id, kind);
    }
    return kind;
  };
  const list = descendants(styles, 'cellXfs')[0];
  return (list ? childrenNamed(list, 'xf') : []).map((xf) => kindOf(Number(attribute(xf, 'numFmtId') ?? 0)));
};

// ---------------------------------------------------------------------------
// Streaming the large parts

interface StreamHandlers {
  open(name: string, attributes: Record<string, string>): void;
  text(data: string): void;
  close(name: string): void;
}

const localOf = (name: string) => {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
};

/**
 * A part read event by event, never as a tree, by the parser xml.ts uses
 * with the same settings (XML mode, only XML's own entities decoded).
 */
const streamPart = async (archive: ZipArchive, part: string, input: LoadInput, handlers: StreamHandlers) => {
  const { text } = decodeText(await archive.read(part), { html: true });
  const maxDepth = Math.min(MAX_SHEET_DEPTH, input.limits.maxHtmlDepth);
  let depth = 0;
  const parser = new Parser(
    {
      onopentag: (name, attributes) => {
        if (++depth > maxDepth) {
          throw new AppError(
            'DOCUMENT_PARSE_ERROR',
            `The ${KIND} nests elements more than ${maxDepth} levels deep in ${part}; no real workbook does.`,
          );
        }
        handlers.open(localOf(name), attributes);
      },
      ontext: (data) => handlers.text(data),
      onclosetag: (name) => {
        depth--;
        handlers.close(localOf(name));
      },
    },
    { xmlMode: true, decodeEntities: true },
  );
  for (let at = 0; at < text.length; at += PARSE_CHUNK) {
    parser.write(text.slice(at, at + PARSE_CHUNK));
    await input.checkpoint();
  }
  parser.end();
};

/**
 * OOXML writes characters XML cannot hold (and some it can, like CR) as
 * `_xHHHH_`; `_x005F_` is a literal `_`. Control characters other than tab,
 * line feed and CR (`_x0000_`), and UTF-16 halves with no partner
 * (`_xD800_` alone), are dropped: they are no text, and a lone surrogate
 * cannot be written as UTF-8.
 */
const unescapeOoxml = (text: string) =>
  text.includes('_x')
    ? text
        .replace(/_x([0-9A-Fa-f]{4})_/g, (_match, hex: string) => {
          const code = Number.parseInt(hex, 16);
          return (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f
            ? ''
            : String.fromCharCode(code);
        })
        .replace(LONE_SURROGATE, '')
    : text;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const overCap = (limits: ProcessingLimits, what: string) =>
  new AppError(
    'DOCUMENT_TOO_LARGE',
    `The ${KIND} ${what}: more than its limit of ${limits.maxSpreadsheetCells} cells (maxSpreadsheetCells). Split the workbook.`,
  );

/**
 * Counts cells for the whole workbook, as they are read, and the characters
 * of their text (a separator each included) against the output budget: one
 * shared string can be the value of every cell, so few cells can still make
 * hundreds of MB of text.
 */
class CellBudget {
  private cells = 0;
  private laidOut = 0;
  private blanks = 0;
  private readonly output: OutputBudget;

  constructor(private readonly limits: ProcessingLimits) {
    this.output = new OutputBudget(limits, KIND);
  }

  /** Whether one more blank cell may be kept (they join table islands; past the cell cap they are let go). */
  takeBlank(): boolean {
    return ++this.blanks <= this.limits.maxSpreadsheetCells;
  }

  take(text: string): void {
    if (++this.cells > this.limits.maxSpreadsheetCells) throw overCap(this.limits, 'has more non-empty cells');
    this.output.take(text.length + 1);
  }

  /** A sheet's trimmed rows × columns: what its text is built from, empty cells included. */
  layOut(sheet: string, rows: number, columns: number): void {
    this.laidOut += rows * columns;
    if (this.laidOut > this.limits.maxSpreadsheetCells) {
      throw overCap(
        this.limits,
        `sheet "${sheet.slice(0, 100)}" spans ${rows} rows × ${columns} columns once empty ones are trimmed`,
      );
    }
  }
}

/** The shared string table: `<si>` holds `<t>` or rich-text runs `<r><t>`; phonetic runs (`<rPh>`) are not the text. */
const readSharedStrings = async (
  archive: ZipArchive,
  part: string | undefined,
  input: LoadInput,
): Promise<string[]> => {
  if (!part || !archive.has(part)) return [];
  const strings: string[] = [];
  let current: string[] | undefined;
  let inText = 0;
  let inPhonetic = 0;
  await streamPart(archive, part, input, {
    open: (name) => {
      if (name === 'si') {
        // Every shared string is some cell's value: more of them than cells allowed is no workbook to read.
        if (strings.length >= input.limits.maxSpreadsheetCells) {
          throw overCap(input.limits, 'has more shared strings');
        }
        current = [];
      } else if (name === 'rPh') inPhonetic++;
      else if (name === 't') inText++;
    },
    text: (data) => {
      if (current && inText > 0 && inPhonetic === 0) current.push(data);
    },
    close: (name) => {
      if (name === 'si' && current) {
        strings.push(unescapeOoxml(current.join('')));
        current = undefined;
      } else if (name === 'rPh') inPhonetic--;
      else if (name === 't') inText--;
    },
  });
  return strings;
};

const outsideSheet = (what: string) =>
  new AppError(
    'DOCUMENT_PARSE_ERROR',
    `The ${KIND} file is damaged (${what.slice(0, 60)} is outside a sheet's ${MAX_COLUMNS} columns and ${MAX_ROWS} rows).`,
  );

/**
 * `B3` (or `$B$3`) → column 1: undefined when it is not a reference, an
 * error when it is outside a sheet. Read character by character: this runs
 * once per cell.
 */
const columnOf = (reference: string): number | undefined => {
  let at = reference.charCodeAt(0) === 0x24 ? 1 : 0;
  let column = 0;
  let letters = 0;
  for (; at < reference.length; at++, letters++) {
    const code = reference.charCodeAt(at) | 0x20; // ASCII letters in lower case
    if (code < 0x61 || code > 0x7a) break;
    if (letters < 4) column = column * 26 + (code - 0x60);
  }
  if (reference.charCodeAt(at) === 0x24) at++;
  let row = 0;
  let digits = 0;
  for (; at < reference.length; at++, digits++) {
    const code = reference.charCodeAt(at);
    if (code < 0x30 || code > 0x39) return undefined;
    if (digits < 8) row = row * 10 + (code - 0x30);
  }
  if (!letters || !digits) return undefined;
  if (letters > 3 || column > MAX_COLUMNS || digits > 7 || row > MAX_ROWS || row < 1) {
    throw outsideSheet(`cell ${reference}`);
  }
  return column - 1;
};

type Row = SheetRow;

interface SheetContext {
  strings: string[];
  kinds: NumberKind[];
  date1904: boolean;
}

const cellText = (type: string, raw: string, style: number, context: SheetContext): string => {
  switch (type) {
    case 's':
      return context.strings[Number(raw)] ?? '';
    case 'str':
    case 'inlineStr':
      return unescapeOoxml(raw);
    case 'b':
      return raw === '' ? '' : raw === '1' || raw === 'true' ? 'TRUE' : 'FALSE';
    case 'e':
      return raw;
    case 'd':
      return formatIsoCell(raw);
    default: {
      if (raw.trim() === '') return '';
      const value = Number(raw);
      if (!Number.isFinite(value)) return raw;
      const kind = context.kinds[style] ?? NUMBER;
      if (kind.kind === 'percent') return `${formatNumber(value * 100)}%`;
      if (kind.kind === 'date') return formatDate(value, kind, context.date1904) ?? formatNumber(value);
      return formatNumber(value);
    }
  }
};

/** A worksheet's non-empty cells, row by row, counted against the budget as they are read. */
const readSheetRows = async (
  archive: ZipArchive,
  part: string,
  input: LoadInput,
  context: SheetContext,
  budget: CellBudget,
): Promise<{ rows: Row[]; merges: string[] }> => {
  const rows: Row[] = [];
  const merges: string[] = [];
  let inSheetData = false;
  let row: Row | undefined;
  let nextRow = 0;
  let nextColumn = 0;
  // The cell being read (kept in variables, not an object per cell): its column, type, style and
  // value text (`<v>`, or the text runs of `<is>`).
  let inCell = false;
  let column = 0;
  let type = 'n';
  let style = 0;
  let value = '';
  let formula = false;
  let capture = 0;
  let inInline = 0;
  let inPhonetic = 0;
  await streamPart(archive, part, input, {
    open: (name, attributes) => {
      if (name === 'sheetData') inSheetData = true;
      if (name === 'mergeCell' && attributes.ref && merges.length < MAX_MERGES) merges.push(attributes.ref);
      if (!inSheetData) return;
      if (name === 'row') {
        const number = attributes.r === undefined ? nextRow + 1 : Number(attributes.r);
        if (!Number.isInteger(number) || number < 1 || number > MAX_ROWS) throw outsideSheet(`row ${attributes.r}`);
        nextRow = number;
        nextColumn = 0;
        row = { index: number - 1, columns: [], values: [] };
      } else if (name === 'c' && row) {
        // A cell without a reference follows the one before it (ECMA-376 §18.3.1.4).
        const at = attributes.r === undefined ? nextColumn : columnOf(attributes.r);
        if (at === undefined || at >= MAX_COLUMNS) {
          throw new AppError(
            'DOCUMENT_PARSE_ERROR',
            `The ${KIND} file is damaged (a cell reference, ${String(attributes.r ?? 'after XFD').slice(0, 40)}, cannot be read).`,
          );
        }
        inCell = true;
        column = at;
        type = attributes.t ?? 'n';
        style = attributes.s === undefined ? 0 : Number(attributes.s) || 0;
        value = '';
        formula = false;
        nextColumn = at + 1;
      } else if (inCell) {
        if (name === 'f') formula = true;
        if (name === 'v' && inInline === 0) capture++;
        else if (name === 'is') inInline++;
        else if (name === 'rPh') inPhonetic++;
        else if (name === 't' && inInline > 0) capture++;
      }
    },
    text: (data) => {
      if (capture > 0 && inPhonetic === 0) value += data;
    },
    close: (name) => {
      if (name === 'sheetData') inSheetData = false;
      if (!inSheetData) return;
      if (name === 'c' && inCell && row) {
        const text = cellText(type, value, style, context);
        if (text.trim() !== '') {
          budget.take(text);
          row.columns.push(column);
          row.values.push(text);
        } else if ((style !== 0 || formula) && budget.takeBlank()) {
          // A styled blank (a bordered table's empty cell) or a formula never calculated: part of its table, no text.
          row.columns.push(column);
          row.values.push('');
        }
        inCell = false;
        capture = inInline = inPhonetic = 0;
      } else if (name === 'row' && row) {
        if (row.columns.length) rows.push(row);
        row = undefined;
      } else if (inCell) {
        if (name === 'v' && inInline === 0) capture--;
        else if (name === 'is') inInline--;
        else if (name === 'rPh') inPhonetic--;
        else if (name === 't' && inInline > 0) capture--;
      }
    },
  });
  return { rows, merges };
};

// ---------------------------------------------------------------------------
// Writing a sheet

/** Rows in order and each row's cells in column order (producers write them so; the format does not promise it). */
const normalise = (rows: Row[]): Row[] => {
  const sorted = rows.every((row, at) => at === 0 || (rows[at - 1] as Row).index < row.index)
    ? rows
    : [...rows].sort((a, b) => a.index - b.index);
  return sorted.map((row) => {
    if (row.columns.every((column, at) => at === 0 || (row.columns[at - 1] as number) < column)) return row;
    const order = row.columns
      .map((_, at) => at)
      .sort((a, b) => (row.columns[a] as number) - (row.columns[b] as number));
    return {
      index: row.index,
      columns: order.map((at) => row.columns[at] as number),
      values: order.map((at) => row.values[at] as string),
    };
  });
};

const BREAKS = /[\t\r\n]/;

/**
 * Line breaks and tabs become one space. (Split and trimmed: a regular
 * expression with `\s*` on both sides of the break is quadratic on a long
 * run of spaces.)
 */
const textCell = (value: string) =>
  BREAKS.test(value)
    ? value
        .split(/[\t\r\n]+/)
        .map((piece) => piece.trim())
        .filter(Boolean)
        .join(' ')
    : value.trim();

const markdownCell = (value: string) =>
  value
    .trim()
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\r\n?|\n/g, '<br>')
    .replace(/\t/g, ' ');

/** One island's rows: a TSV block in `text` output, a GFM table (first row as header) in `markdown`. */
const writeIsland = (rows: Row[], markdown: boolean, budget: CellBudget, name: string): string => {
  // Columns empty in every row are left out, inside the island as at its edges.
  const used = [...new Set(rows.flatMap((row) => row.columns))].sort((a, b) => a - b);
  const position = new Map(used.map((column, at) => [column, at]));
  budget.layOut(name, rows.length, used.length);
  return writeGrid(
    rows.map((row) => {
      const cells = new Array<string>(used.length).fill('');
      row.columns.forEach((column, at) => {
        cells[position.get(column) as number] = row.values[at] as string;
      });
      return { index: row.index, cells };
    }),
    markdown,
  );
};

const writeGrid = (rows: ReadonlyArray<{ index: number; cells: string[] }>, markdown: boolean): string => {
  const lines: string[] = [];
  let previous: number | undefined;
  for (const { index, cells: values } of rows) {
    const cells = values.map(markdown ? markdownCell : textCell);
    if (markdown) {
      lines.push(`| ${cells.join(' | ')} |`);
      if (previous === undefined) lines.push(`| ${cells.map(() => '---').join(' | ')} |`);
    } else {
      // A merged range can join rows across an empty one: a blank line, as the sheet shows it.
      if (previous !== undefined && index > previous + 1) lines.push('');
      while (cells.length && cells[cells.length - 1] === '') cells.pop();
      lines.push(cells.join('\t'));
    }
    previous = index;
  }
  return lines.join('\n');
};

// ---------------------------------------------------------------------------
// What a sheet holds besides its cells: charts and comments

/** A picture of a sheet kept as a figure (option `figures`): its id and alt text, placed after the sheet's tables. */
interface SheetFigure {
  id: string;
  caption: string;
  /** The caption is the picture's alt text, which the sheet's cells do not show. */
  alt: boolean;
}

/**
 * A sheet's charts, in the order its drawings list them, and its pictures:
 * with figures on, each one's part handed to the collector (alt text as its
 * caption, the sheet as its place); else counted as not read.
 */
const readDrawings = async (
  archive: ZipArchive,
  part: string,
  input: LoadInput,
  sheet: { name: string; index: number },
): Promise<{ charts: Chart[]; pictures: number; figures: SheetFigure[] }> => {
  const charts: Chart[] = [];
  const figures: SheetFigure[] = [];
  let pictures = 0;
  for (const drawing of targetsOf(await relationshipsOf(archive, part, input, KIND), 'drawing', archive)) {
    const root = await readXml(archive, drawing, input);
    const drawingRelationships = await relationshipsOf(archive, drawing, input, KIND);
    for (const picture of descendants(root, 'pic')) {
      const collector = input.figures;
      const blip = descendants(picture, 'blip')[0];
      const embed = blip && Object.entries(blip.attribs).find(([name]) => name.endsWith(':embed'))?.[1];
      const target = embed ? drawingRelationships.get(embed) : undefined;
      if (!collector) {
        pictures++;
        continue;
      }
      if (!target || target.external || !archive.has(target.target)) {
        collector.countUnsupported();
        continue;
      }
      const properties = descendants(picture, 'cNvPr')[0];
      const alt = ((properties && (attribute(properties, 'descr') || attribute(properties, 'title'))) ?? '')
        .replace(/\s+/g, ' ')
        .trim();
      const figure = collector.add({
        key: target.target,
        bytes: await archive.read(target.target),
        page: sheet.index + 1,
        section: sheet.name,
        ...(alt ? { caption: alt, captionSource: 'alt_text' as const } : {}),
      });
      if (figure) figures.push({ id: figure.id, caption: figure.caption ?? '', alt: Boolean(alt) });
    }
    for (const chartPart of targetsOf(drawingRelationships, 'chart', archive)) {
      const chart = await readChart(archive, chartPart, input, KIND);
      if (chart) charts.push(chart);
    }
  }
  return { charts, pictures, figures };
};

interface CellComment {
  ref: string;
  author: string;
  text: string;
  reply: boolean;
}

const COMMENT_TEXT_LIMIT = 32_768;

/** Text of a comment's runs, phonetic runs left out. */
const commentText = (element: Element): string =>
  descendants(element, 't')
    .filter((run) => !run.parent || (run.parent as Element).name?.split(':').pop() !== 'rPh')
    .map(textOf)
    .join('')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, COMMENT_TEXT_LIMIT);

/**
 * A sheet's comments: threaded comments (Excel 365: a thread of replies, by
 * people of `xl/persons`) where the sheet has them, and the classic notes
 * for every cell without a thread (Excel writes each thread a classic copy
 * that says "[Threaded comment]" for older readers: not read twice).
 */
const readComments = async (
  archive: ZipArchive,
  part: string,
  persons: ReadonlyMap<string, string>,
  input: LoadInput,
): Promise<CellComment[]> => {
  const relationships = await relationshipsOf(archive, part, input, KIND);
  const comments: CellComment[] = [];
  const threaded = new Set<string>();
  for (const target of targetsOf(relationships, 'threadedComment', archive)) {
    for (const entry of descendants(await readXml(archive, target, input), 'threadedComment')) {
      const ref = attribute(entry, 'ref') ?? '';
      const body = childrenNamed(entry, 'text')[0];
      const text = body ? textOf(body).replace(/\s+/g, ' ').trim().slice(0, COMMENT_TEXT_LIMIT) : '';
      threaded.add(ref);
      if (text) {
        const author = persons.get(attribute(entry, 'personId') ?? '') ?? '';
        comments.push({ ref, author, text, reply: attribute(entry, 'parentId') !== undefined });
      }
    }
  }
  for (const target of targetsOf(relationships, 'comments', archive)) {
    const root = await readXml(archive, target, input);
    const authors = descendants(root, 'author').map((author) => textOf(author).trim());
    for (const entry of descendants(root, 'comment')) {
      const ref = attribute(entry, 'ref') ?? '';
      const text = commentText(entry);
      if (!text || threaded.has(ref)) continue;
      const author = authors[Number(attribute(entry, 'authorId'))] ?? '';
      comments.push({ ref, author: author.startsWith('tc=') ? '' : author, text, reply: false });
    }
  }
  return comments;
};

const readPersons = async (archive: ZipArchive, part: string | undefined, input: LoadInput) => {
  const persons = new Map<string, string>();
  if (!part || !archive.has(part)) return persons;
  for (const person of descendants(await readXml(archive, part, input), 'person')) {
    const id = attribute(person, 'id');
    if (id) persons.set(id, attribute(person, 'displayName') ?? '');
  }
  return persons;
};

/** "Comment on B2 (Jane Editor): Which libraries?"; a reply in a thread says so. */
const commentLine = (comment: CellComment): string =>
  `${comment.reply ? 'Reply' : 'Comment'} on ${comment.ref}${comment.author ? ` (${comment.author})` : ''}: ${comment.text}`;

/** Islands with their blank cells left out, and those that held only blanks dropped. */
const withoutBlanks = (islands: Row[][]): Row[][] =>
  islands
    .map((island) =>
      island
        .map((row) => {
          const kept = row.values.flatMap((value, at) => (value === '' ? [] : [at]));
          return kept.length === row.values.length
            ? row
            : {
                index: row.index,
                columns: kept.map((at) => row.columns[at] as number),
                values: kept.map((at) => row.values[at] as string),
              };
        })
        .filter((row) => row.columns.length),
    )
    .filter((island) => island.length);

interface SheetContent {
  islands: Row[][];
  charts: Chart[];
  comments: CellComment[];
  figures: SheetFigure[];
}

/**
 * A sheet's document: in `markdown` its name as a `##` heading; then each
 * table island, each chart (its kind and title, then its series as a
 * table) and each comment, set apart by blank lines.
 */
const writeSheet = (sheet: SheetContent, input: LoadInput, budget: CellBudget, name: string): string => {
  const markdown = input.outputFormat === 'markdown';
  const parts: string[] = markdown ? [`## ${markdownCell(name)}`] : [];
  for (const island of sheet.islands) parts.push(writeIsland(island, markdown, budget, name));
  for (const figure of sheet.figures) {
    if (markdown) parts.push(figureMarkdown(figure.id, figure.caption));
    else if (figure.alt && figure.caption) parts.push(figure.caption);
  }
  for (const chart of sheet.charts) {
    const [label, table] = chartBlocks(chart);
    if (label?.type === 'paragraph') parts.push(inlineText(label.inlines));
    if (table?.type === 'table') {
      budget.layOut(name, table.rows.length, table.rows[0]?.length ?? 0);
      parts.push(
        writeGrid(
          table.rows.map((cells, index) => ({ index, cells })),
          markdown,
        ),
      );
    }
  }
  for (const comment of sheet.comments) parts.push(commentLine(comment));
  return parts.join('\n\n');
};

// ---------------------------------------------------------------------------

export const loadXlsx: Loader = async (input) => {
  const archive = await ZipArchive.ofDocument(input, KIND);
  try {
    await input.checkpoint();
    const workbook = await readWorkbook(archive, input);
    const budget = new CellBudget(input.limits);
    const context: SheetContext = {
      kinds: await readStyles(archive, workbook.styles, input),
      strings: await readSharedStrings(archive, workbook.sharedStrings, input),
      date1904: workbook.date1904,
    };
    const persons = await readPersons(archive, workbook.persons, input);
    const documents: Document[] = [];
    let pictures = 0;
    for (const [done, sheet] of workbook.sheets.entries()) {
      // A sheet whose part is missing has no cells to read; the others are still the workbook's.
      const present = archive.has(sheet.part);
      const cells =
        present && !sheet.chartsOnly
          ? await readSheetRows(archive, sheet.part, input, context, budget)
          : { rows: [], merges: [] };
      const merges = cells.merges.map(rangeOf).filter((range) => range !== undefined);
      const drawings = present
        ? await readDrawings(archive, sheet.part, input, sheet)
        : { charts: [], pictures: 0, figures: [] };
      pictures += drawings.pictures;
      const content: SheetContent = {
        islands: withoutBlanks(islandsOf(normalise(cells.rows), merges)),
        charts: drawings.charts,
        comments: present ? await readComments(archive, sheet.part, persons, input) : [],
        figures: drawings.figures,
      };
      const placed = [...new Set(content.figures.map((figure) => figure.id))];
      if (content.islands.length || content.charts.length || content.comments.length || content.figures.length) {
        const text = writeSheet(content, input, budget, sheet.name);
        documents.push({
          page_content: text,
          metadata: {
            ...baseMetadata(input),
            sheet: sheet.name,
            sheet_index: sheet.index,
            ...(sheet.hidden ? { hidden: true } : {}),
            ...(sheet.chartsOnly ? { chart_sheet: true } : {}),
            ...(placed.length ? { figures: placed } : {}),
          },
        });
      }
      input.onProgress?.((done + 1) / workbook.sheets.length);
      await input.checkpoint();
    }
    const warnings = notReadWarnings({ pictures }, 'workbook');
    return { documents, ...(warnings.length ? { warnings } : {}) };
  } catch (error) {
    if (error instanceof AppError || input.signal?.aborted) throw error;
    throw new AppError('DOCUMENT_PARSE_ERROR', `The ${KIND} file could not be read; it may be damaged.`, {
      cause: error,
    });
  } finally {
    archive.close();
  }
};
