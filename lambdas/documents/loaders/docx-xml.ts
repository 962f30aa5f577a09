import type { Element } from 'domhandler';
import type { ProcessingLimits } from '../limits.js';
import type { OutputFormat } from '../options.js';
import { ommlToLatex } from './omml.js';
import { attribute, childrenNamed, descendants, parseXml } from './xml.js';

/**
 * What mammoth (the DOCX reader) leaves out of a document's body, put back
 * into `word/document.xml` as plain runs before mammoth reads it:
 *
 * - **Equations** (`m:oMath`): as LaTeX, `$…$` inline and `$$…$$` on a line
 *   of their own in Markdown, bare in text (omml.ts).
 * - **Check boxes**: content-control boxes (`w14:checkbox`) and legacy form
 *   fields (`FORMCHECKBOX`) as `[x]` or `[ ]`; symbol-font boxes, checks,
 *   bullets and arrows (`w:sym`) as the text they show.
 * - **Heading numbers** from Word's list numbering (`1.2.1`), which Word
 *   draws and never stores as text: counted through the document as Word
 *   counts them (per list, a level restarting the ones below it).
 *
 * The XML is edited as text, in place, so a body without any of these is
 * handed over unchanged and costs one scan; each equation is parsed alone
 * under the XML caps.
 */

interface Parts {
  document: string;
  styles?: string | undefined;
  numbering?: string | undefined;
}

interface Context {
  limits: Pick<ProcessingLimits, 'maxHtmlDepth' | 'maxHtmlTags'>;
  checkpoint: () => Promise<void>;
  outputFormat: OutputFormat;
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const textRun = (text: string) => `<w:r><w:t xml:space="preserve">${escapeXml(text)}</w:t></w:r>`;

/** Replaces each match of `pattern` by what `replace` makes of it, in order, awaiting each. */
const replaceEach = async (
  text: string,
  pattern: RegExp,
  replace: (match: RegExpExecArray) => Promise<string> | string,
): Promise<string> => {
  const parts: string[] = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    parts.push(text.slice(last, match.index), await replace(match));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts.join('');
};

const MATH_PARAGRAPH = /<m:oMathPara\b[^>]*>[\s\S]*?<\/m:oMathPara>/g;
const MATH = /<m:oMath\b[^>]*>[\s\S]*?<\/m:oMath>/g;

const withEquations = async (xml: string, context: Context): Promise<string> => {
  if (!xml.includes('<m:oMath')) return xml;
  const latexOf = async (segment: string) => {
    const root = await parseXml(
      `<r xmlns:m="m" xmlns:w="w">${segment}</r>`,
      context.limits,
      context.checkpoint,
      'DOCX',
    );
    const math = descendants(root, 'oMathPara')[0] ?? descendants(root, 'oMath')[0];
    return math ? ommlToLatex(math) : '';
  };
  const markdown = context.outputFormat === 'markdown';
  const display = await replaceEach(xml, MATH_PARAGRAPH, async ([segment]) => {
    const latex = await latexOf(segment);
    return latex ? textRun(markdown ? `$$${latex}$$` : latex) : '';
  });
  return replaceEach(display, MATH, async ([segment]) => {
    const latex = await latexOf(segment);
    return latex ? textRun(markdown ? `$${latex}$` : latex) : '';
  });
};

/** A content-control check box: the whole control (its glyph in MS Gothic) becomes `[x]` or `[ ]`. */
const CONTROL_BOX = /<w:sdt>(?:(?!<w:sdt>)[\s\S])*?<w14:checkbox>([\s\S]*?)<\/w14:checkbox>[\s\S]*?<\/w:sdt>/g;
/** A legacy form check box: the field's start, whose `w:ffData` holds its state. */
const FORM_BOX =
  /<w:fldChar\b[^>]*w:fldCharType="begin"[^>]*>(?:(?!<\/w:fldChar>)[\s\S])*?<w:checkBox>([\s\S]*?)<\/w:checkBox>[\s\S]*?<\/w:fldChar>\s*<\/w:r>/g;

const mark = (checked: boolean) => (checked ? '[x] ' : '[ ] ');

const withCheckBoxes = (xml: string): string => {
  if (!xml.includes('checkbox') && !xml.includes('checkBox')) return xml;
  const controls = xml.replace(CONTROL_BOX, (whole, state: string) =>
    // A control holding paragraphs is a block, not a box in a line: left as it is.
    /<w:p[ >]/.test(whole) ? whole : textRun(mark(/<w14:checked w14:val="(?:1|true)"/.test(state))),
  );
  return controls.replace(FORM_BOX, (whole, state: string) => {
    const checked =
      /<w:checked(?: w:val="(?:1|true)")?\s*\/>/.test(state) || /<w:default w:val="(?:1|true)"/.test(state);
    return `${whole}${textRun(mark(checked))}`;
  });
};

/**
 * Symbol-font characters (`w:sym`: a glyph of Wingdings or Symbol, which
 * mammoth drops) as the text they show: boxes as `[x]` and `[ ]`, checks,
 * bullets and arrows. Others stay as they were (and are dropped).
 */
const SYMBOLS: Record<string, Record<number, string>> = {
  wingdings: {
    0xfe: '[x]',
    0x78: '[x]',
    0xa8: '[ ]',
    0x6f: '[ ]',
    0x70: '[ ]',
    0x71: '[ ]',
    0xfc: '✓',
    0xfb: '✗',
    0xa7: '•',
    0x9f: '•',
    0x6c: '•',
    0xd8: '➢',
    0xe0: '→',
  },
  symbol: { 0xb7: '•', 0xae: '→', 0xde: '⇒', 0xd7: '·', 0xb4: '×', 0xa3: '≤', 0xb3: '≥' },
};

const SYM = /<w:sym\b([^>]*)\/>/g;

const withSymbols = (xml: string): string =>
  xml.includes('<w:sym')
    ? xml.replace(SYM, (whole, attributes: string) => {
        const font =
          /w:font="([^"]*)"/
            .exec(attributes)?.[1]
            ?.toLowerCase()
            .replace(/\s+\d*$/, '') ?? '';
        const code = Number.parseInt(/w:char="([0-9A-Fa-f]{1,4})"/.exec(attributes)?.[1] ?? '', 16) & 0xff;
        const text = SYMBOLS[font]?.[code];
        return text ? `<w:t xml:space="preserve">${escapeXml(text)}</w:t>` : whole;
      })
    : xml;

// ---------------------------------------------------------------------------
// Heading numbers

interface Level {
  start: number;
  format: string;
  text: string;
}

interface Numbering {
  /** numId → the abstract numbering it instantiates, and its start overrides per level. */
  instances: Map<string, { abstract: string; starts: Map<number, number> }>;
  /** abstractNumId → levels by ilvl. */
  abstracts: Map<string, Map<number, Level>>;
}

interface StyleInfo {
  name: string;
  /** Outline level 0–8 (Heading 1 is 0): the style's own, or its name's. */
  outline?: number | undefined;
  heading: boolean;
  numId?: string | undefined;
  ilvl?: number | undefined;
  basedOn?: string | undefined;
}

const val = (element: Element | undefined): string | undefined => (element ? attribute(element, 'val') : undefined);

const readNumbering = (root: { children: Element['children'] }): Numbering => {
  const abstracts = new Map<string, Map<number, Level>>();
  for (const abstract of descendants(root as Element, 'abstractNum')) {
    const levels = new Map<number, Level>();
    for (const level of childrenNamed(abstract, 'lvl')) {
      levels.set(Number(attribute(level, 'ilvl') ?? 0), {
        start: Number(val(childrenNamed(level, 'start')[0]) ?? 1) || 0,
        format: val(childrenNamed(level, 'numFmt')[0]) ?? 'decimal',
        text: val(childrenNamed(level, 'lvlText')[0]) ?? '',
      });
    }
    abstracts.set(attribute(abstract, 'abstractNumId') ?? '', levels);
  }
  const instances = new Map<string, { abstract: string; starts: Map<number, number> }>();
  for (const num of descendants(root as Element, 'num')) {
    const starts = new Map<number, number>();
    for (const override of childrenNamed(num, 'lvlOverride')) {
      const start = val(childrenNamed(override, 'startOverride')[0]);
      if (start !== undefined) starts.set(Number(attribute(override, 'ilvl') ?? 0), Number(start));
    }
    instances.set(attribute(num, 'numId') ?? '', {
      abstract: val(childrenNamed(num, 'abstractNumId')[0]) ?? '',
      starts,
    });
  }
  return { instances, abstracts };
};

const readStyles = (root: { children: Element['children'] }): Map<string, StyleInfo> => {
  const styles = new Map<string, StyleInfo>();
  for (const style of descendants(root as Element, 'style')) {
    if (attribute(style, 'type') !== 'paragraph') continue;
    const name = (val(childrenNamed(style, 'name')[0]) ?? '').toLowerCase();
    const properties = childrenNamed(style, 'pPr')[0];
    const numPr = properties && childrenNamed(properties, 'numPr')[0];
    const outline = properties && childrenNamed(properties, 'outlineLvl')[0];
    const level =
      outline !== undefined
        ? Number(val(outline))
        : /^heading (\d)$/.exec(name)
          ? Number(name.slice(8)) - 1
          : undefined;
    styles.set(attribute(style, 'styleId') ?? '', {
      name,
      outline: level !== undefined && level >= 0 && level < 9 ? level : undefined,
      // Word's built-in headings, or any style with an outline level (a heading by another name).
      heading: /^heading \d$/.test(name) || (outline !== undefined && Number(val(outline)) < 9),
      numId: numPr ? val(childrenNamed(numPr, 'numId')[0]) : undefined,
      ilvl: numPr ? Number(val(childrenNamed(numPr, 'ilvl')[0]) ?? 0) : undefined,
      basedOn: val(childrenNamed(style, 'basedOn')[0]),
    });
  }
  return styles;
};

/** A style's numbering and heading-ness, through its `basedOn` chain (bounded: a loop in the chain ends it). */
const resolveStyle = (styles: Map<string, StyleInfo>, id: string | undefined) => {
  const resolved: { heading: boolean; numId?: string; ilvl?: number } = { heading: false };
  const seen = new Set<string>();
  for (let current = id; current && !seen.has(current) && seen.size < 32; current = styles.get(current)?.basedOn) {
    seen.add(current);
    const style = styles.get(current);
    if (!style) break;
    resolved.heading ||= style.heading;
    resolved.numId ??= style.numId;
    resolved.ilvl ??= style.ilvl;
  }
  return resolved;
};

const roman = (value: number): string => {
  const numerals: Array<[number, string]> = [
    [1000, 'm'],
    [900, 'cm'],
    [500, 'd'],
    [400, 'cd'],
    [100, 'c'],
    [90, 'xc'],
    [50, 'l'],
    [40, 'xl'],
    [10, 'x'],
    [9, 'ix'],
    [5, 'v'],
    [4, 'iv'],
    [1, 'i'],
  ];
  let rest = Math.min(Math.max(value, 0), 3999);
  let out = '';
  for (const [amount, numeral] of numerals) {
    while (rest >= amount) {
      out += numeral;
      rest -= amount;
    }
  }
  return out;
};

const letters = (value: number): string => {
  const letter = String.fromCharCode(97 + ((Math.max(value, 1) - 1) % 26));
  return letter.repeat(Math.floor((Math.max(value, 1) - 1) / 26) + 1);
};

/** A counter as its level's format shows it; undefined for bullets and formats without a number. */
const formatted = (value: number, format: string): string | undefined => {
  switch (format) {
    case 'decimal':
      return String(value);
    case 'decimalZero':
      return String(value).padStart(2, '0');
    case 'lowerLetter':
      return letters(value);
    case 'upperLetter':
      return letters(value).toUpperCase();
    case 'lowerRoman':
      return roman(value);
    case 'upperRoman':
      return roman(value).toUpperCase();
    default:
      return undefined;
  }
};

const PARAGRAPH_PROPERTIES = /<w:p\b[^>]*>\s*(<w:pPr>[\s\S]*?<\/w:pPr>)?/g;

const withHeadingNumbers = (
  xml: string,
  styleRoot: { children: Element['children'] },
  numberingRoot: { children: Element['children'] },
): string => {
  const styles = readStyles(styleRoot);
  const numbering = readNumbering(numberingRoot);
  // Counters per abstract numbering, per level.
  const counters = new Map<string, number[]>();
  return xml.replace(PARAGRAPH_PROPERTIES, (whole, properties: string | undefined) => {
    const styleId = properties ? /<w:pStyle w:val="([^"]*)"/.exec(properties)?.[1] : undefined;
    const style = resolveStyle(styles, styleId);
    const direct = properties ? /<w:numPr>([\s\S]*?)<\/w:numPr>/.exec(properties)?.[1] : undefined;
    const numId = (direct && /<w:numId w:val="([^"]*)"/.exec(direct)?.[1]) ?? style.numId;
    const ilvl = Number((direct && /<w:ilvl w:val="(\d+)"/.exec(direct)?.[1]) ?? style.ilvl ?? 0);
    const instance = numId ? numbering.instances.get(numId) : undefined;
    const levels = instance && numbering.abstracts.get(instance.abstract);
    if (!instance || !levels || numId === '0' || ilvl > 8) return whole;
    const count = counters.get(instance.abstract) ?? [];
    const startOf = (level: number) => instance.starts.get(level) ?? levels.get(level)?.start ?? 1;
    // A level shown before its parent was (2.1.1 right under 2) counts the parent at its start, as Word does.
    for (let above = 0; above < ilvl; above++) count[above] ??= startOf(above);
    count[ilvl] = count[ilvl] === undefined ? startOf(ilvl) : count[ilvl] + 1;
    // A level counting on restarts the levels below it.
    count.length = ilvl + 1;
    counters.set(instance.abstract, count);
    if (!style.heading) return whole;
    const level = levels.get(ilvl);
    if (!level?.text) return whole;
    let complete = true;
    const label = level.text.replace(/%(\d)/g, (_, digit: string) => {
      const at = Number(digit) - 1;
      const shown = formatted(count[at] ?? startOf(at), levels.get(at)?.format ?? 'decimal');
      if (shown === undefined) complete = false;
      return shown ?? '';
    });
    return complete && label.trim() ? `${whole}${textRun(`${label.trim()} `)}` : whole;
  });
};

/**
 * mammoth's style map for the headings it would not see: styles with an
 * outline level, or based on a heading, under another name than
 * "Heading N" (which mammoth maps itself), and the Title style, which
 * heads the document.
 */
export const headingStyleMap = async (stylesXml: string | undefined, context: Context): Promise<string[]> => {
  if (!stylesXml) return [];
  const styles = readStyles(await parseXml(stylesXml, context.limits, context.checkpoint, 'DOCX'));
  const map: string[] = [];
  for (const [id, style] of styles) {
    if (!/^[\w-]+$/.test(id)) continue;
    if (style.name === 'title') {
      map.push(`p.${id} => h1:fresh`);
      continue;
    }
    if (/^heading \d$/.test(style.name)) continue;
    let outline: number | undefined;
    const seen = new Set<string>();
    for (
      let current: string | undefined = id;
      current && !seen.has(current) && seen.size < 32;
      current = styles.get(current)?.basedOn
    ) {
      seen.add(current);
      outline = styles.get(current)?.outline;
      if (outline !== undefined) break;
    }
    if (outline !== undefined) map.push(`p.${id} => h${Math.min(outline + 1, 6)}:fresh`);
  }
  return map;
};

const occurrences = (xml: string, pattern: RegExp): number => xml.match(pattern)?.length ?? 0;

/**
 * What the body holds that no reader here reads: pictures (DrawingML and
 * VML), embedded objects (OLE: a sheet or a drawing from another program),
 * diagrams (SmartArt) and charts, which mammoth skips.
 */
export const notReadOf = (xml: string) => ({
  pictures: occurrences(xml, /<pic:pic\b/g) + occurrences(xml, /<v:imagedata\b/g),
  objects: occurrences(xml, /<o:OLEObject\b/g),
  diagrams: occurrences(xml, /<dgm:relIds\b/g) + occurrences(xml, /<c:chart\b/g),
});

/** The document part with equations, check boxes and heading numbers as runs mammoth reads. */
export const prepareDocumentXml = async (parts: Parts, context: Context): Promise<string> => {
  const xml = withSymbols(withCheckBoxes(await withEquations(parts.document, context)));
  if (!parts.numbering || !parts.styles) return xml;
  const styleRoot = await parseXml(parts.styles, context.limits, context.checkpoint, 'DOCX');
  const numberingRoot = await parseXml(parts.numbering, context.limits, context.checkpoint, 'DOCX');
  return withHeadingNumbers(xml, styleRoot, numberingRoot);
};
