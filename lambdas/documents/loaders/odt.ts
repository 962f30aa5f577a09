import { hasChildren, isTag, isText, type AnyNode, type Document as XmlDocument, type Element } from 'domhandler';
import { AppError } from '../../errors.js';
import { OutputBudget } from '../limits.js';
import {
  blocksToMarkdown,
  blocksToText,
  oneLine,
  readerErrors,
  textOf,
  type Block,
  type Inline,
} from './office-blocks.js';
import { layOutTable, MAX_COL_SPAN, MAX_ROW_SPAN, spanCount, type SpannedCell } from './table-grid.js';
import { singleDocument, type LoadInput, type Loader } from './types.js';
import { attribute, childrenNamed, descendants, localName, readXmlPart } from './xml.js';
import { ZipArchive } from './zip.js';
import { captionText, type Figure, type FigureCollector } from '../figures/figures.js';
import { isCaptionLine } from '../figures/captions.js';
import { imageHeaderOf } from '../ocr/image-header.js';

/**
 * ODT (OpenDocument text): one document, like DOCX, read from content.xml's
 * `office:text` through the capped zip reader and XML parser. Headings keep
 * their outline level, lists their nesting (and numbering, from the list
 * styles), tables their rows; footnotes follow the text, marked `[n]`.
 * Tracked-change deletions, comments and index templates are not text.
 */

/** Elements whose text is not the document's: deleted text kept for change tracking, comments, declarations. */
const SKIPPED = new Set([
  'tracked-changes',
  'annotation',
  'annotation-end',
  'sequence-decls',
  'variable-decls',
  'user-field-decls',
  'dde-connection-decls',
  'forms',
  'note-citation',
  'ruby-text',
  'binary-data',
  'index-title-template',
]);

/**
 * Also skipped: `text:table-of-content-source` and the like (the templates
 * an index is generated from), and a drawing's `svg:title`/`svg:desc` (its
 * alternative text), but not the `text:title` field, which shows the title.
 */
const isSkipped = (element: Element) => {
  const name = localName(element);
  return (
    SKIPPED.has(name) ||
    name.endsWith('-source') ||
    ((name === 'title' || name === 'desc') && element.name.startsWith('svg:'))
  );
};

/** Longest run one `text:s` may stand for: the count is the file's to choose. */
const MAX_SPACES = 100;
/**
 * Most copies of a repeated table cell or row (`number-columns-repeated`), as
 * the HTML reading caps `colspan`. Per element: a table nested in a repeated
 * cell multiplies the copies, so each table's rows are also counted, copies
 * included, against the document's output budget (a table inside a table is
 * counted at each level it appears in).
 */
const MAX_REPEAT = 100;

/** Whether a list level is numbered, from `text:list-style` definitions (content.xml's automatic styles, then styles.xml). */
type ListStyles = Map<string, Map<number, boolean>>;

const addListStyles = (root: XmlDocument, styles: ListStyles) => {
  for (const style of descendants(root, 'list-style')) {
    const name = attribute(style, 'name');
    if (!name || styles.has(name)) continue;
    const levels = new Map<number, boolean>();
    for (const level of style.children) {
      if (!isTag(level)) continue;
      const number = Number.parseInt(attribute(level, 'level') ?? '', 10);
      // A number style with an empty format shows no number.
      const numbered = localName(level) === 'list-level-style-number' && attribute(level, 'num-format') !== '';
      if (Number.isInteger(number)) levels.set(number, numbered);
    }
    styles.set(name, levels);
  }
};

/**
 * Builds a paragraph's inline text as ODF lays it out: runs of white space
 * in the XML are one space (and none at the ends), while `text:s`, `text:tab`
 * and `text:line-break` are kept as written. Text inside a link is gathered
 * into that link.
 */
class InlineBuilder {
  readonly inlines: Inline[] = [];
  private spaceDue = false;
  private openLink: { text: string; href: string } | undefined;
  private linkDepth = 0;

  text(data: string): void {
    const collapsed = data.replace(/[ \t\r\n]+/g, ' ');
    if (collapsed.startsWith(' ')) this.spaceDue = true;
    // Only XML white space collapses: a no-break space is text.
    const word = collapsed.replace(/^ | $/g, '');
    if (!word) return;
    this.literal(word);
    this.spaceDue = collapsed.endsWith(' ');
  }

  literal(data: string): void {
    if (this.spaceDue && (this.inlines.length || this.openLink?.text)) {
      // A space before a link's first word stands before the link.
      if (this.openLink?.text) this.openLink.text += ' ';
      else this.pushText(' ');
    }
    this.spaceDue = false;
    if (this.openLink) this.openLink.text += data;
    else this.pushText(data);
  }

  beginLink(href: string): void {
    // Links do not nest in ODF; an inner one is read as the outer one's text.
    if (this.linkDepth++ === 0) this.openLink = { text: '', href };
  }

  endLink(): void {
    if (--this.linkDepth > 0 || !this.openLink) return;
    const link = this.openLink;
    this.openLink = undefined;
    if (!link.text) return;
    this.inlines.push(link.href ? link : link.text);
  }

  private pushText(data: string): void {
    const last = this.inlines.length - 1;
    if (typeof this.inlines[last] === 'string') this.inlines[last] += data;
    else this.inlines.push(data);
  }
}

class OdtReader {
  readonly footnotes: Block[] = [];
  private notes = 0;
  /** The figures placed, by id: a caption found after one is set on it. */
  private readonly placed = new Map<string, Figure>();

  constructor(
    /** Whether a list level is numbered; `undefined` when only text is asked for (it shows no numbers). */
    private readonly listStyles: ListStyles | undefined,
    /** The characters repeated table cells and rows make, counted before they are joined. */
    private readonly output: OutputBudget,
    /** With figures on: the pictures the body shows, read beforehand by their `xlink:href`. */
    private readonly pictures?: { collector: FigureCollector; bytes: Map<string, Uint8Array> },
  ) {}

  /** A frame's picture (`draw:image`) as a figure block, captioned by the frame's description or title. */
  private figure(frame: Element, caption: string): Block | undefined {
    const { pictures } = this;
    if (!pictures) return undefined;
    // A frame may hold a picture and its replacements (a PDF, an SVG): the first kept format wins.
    const images = childrenNamed(frame, 'image');
    if (!images.length) return undefined;
    const bytes = images
      .map((image) => pictures.bytes.get(attribute(image, 'href') ?? ''))
      .find((candidate) => candidate && imageHeaderOf(candidate));
    if (!bytes) {
      pictures.collector.countUnsupported();
      return undefined;
    }
    const described = [...childrenNamed(frame, 'desc'), ...childrenNamed(frame, 'title')]
      .map((element) => textOf(element).replace(/\s+/g, ' ').trim())
      .find(Boolean);
    const [text, source] = caption
      ? [caption, 'label' as const]
      : described
        ? [described, 'alt_text' as const]
        : ['', undefined];
    const figure = pictures.collector.add({ bytes, ...(text ? { caption: text, captionSource: source } : {}) });
    if (!figure) return undefined;
    this.placed.set(figure.id, figure);
    return { type: 'figure', id: figure.id, caption: figure.caption ?? '', captionShown: source !== 'alt_text' };
  }

  /** The blocks of a container's children (`office:text`, a section, a list item, a cell, a text box…). */
  blocks(children: readonly AnyNode[], listStyle = ''): Block[] {
    const blocks: Block[] = [];
    for (const child of children) {
      if (!isTag(child) || isSkipped(child)) continue;
      switch (localName(child)) {
        case 'h': {
          const level = Number.parseInt(attribute(child, 'outline-level') ?? '1', 10);
          this.paragraph(child, blocks, (inlines) => ({
            type: 'heading',
            level: Number.isInteger(level) ? Math.min(Math.max(level, 1), 6) : 1,
            inlines,
          }));
          break;
        }
        case 'p':
          this.paragraph(child, blocks, (inlines) => ({ type: 'paragraph', inlines }));
          break;
        case 'list':
          blocks.push(this.list(child, listStyle, 1));
          break;
        case 'numbered-paragraph':
          // A list item standing alone: a list of one.
          blocks.push({ type: 'list', ordered: true, items: [this.blocks(child.children)] });
          break;
        case 'table':
          blocks.push(this.table(child));
          break;
        default:
          // Sections, index bodies, frames and text boxes: their paragraphs are the document's.
          blocks.push(...this.blocks(child.children, listStyle));
      }
    }
    this.captionFromNext(blocks);
    return blocks;
  }

  /** A figure without a caption takes the labelled paragraph right after it ("Figure 1: …", a caption style's). */
  private captionFromNext(blocks: Block[]): void {
    blocks.forEach((block, index) => {
      const next = blocks[index + 1];
      if (block.type !== 'figure' || block.caption || next?.type !== 'paragraph') return;
      const text = blocksToText([next], ' ').replace(/\s+/g, ' ').trim();
      const figure = this.placed.get(block.id);
      if (!figure || figure.caption || !isCaptionLine(text)) return;
      figure.caption = captionText(text);
      figure.caption_source = 'label';
      block.caption = figure.caption;
      block.captionShown = true;
    });
  }

  private list(list: Element, inherited: string, level: number): Block {
    const style = attribute(list, 'style-name') ?? inherited;
    const ordered = this.listStyles?.get(style)?.get(level) ?? false;
    const items: Block[][] = [];
    for (const item of list.children) {
      if (!isTag(item) || !['list-item', 'list-header'].includes(localName(item))) continue;
      const blocks: Block[] = [];
      for (const child of item.children) {
        if (!isTag(child)) continue;
        // A list in an item is the next level of the same list, in its style unless it names one.
        if (localName(child) === 'list') blocks.push(this.list(child, style, level + 1));
        else blocks.push(...this.blocks([child], style));
      }
      if (blocks.length) items.push(blocks);
    }
    return { type: 'list', ordered, items };
  }

  /**
   * Rows of cells, each cell on one line, laid out on the table's grid: a
   * spanning cell's value fills the positions it covers (table-grid.ts), where
   * the file has covered (merged-over) cells, so columns stay aligned.
   */
  private table(table: Element): Block {
    const rows: SpannedCell[][] = [];
    const pending = [...table.children].reverse();
    for (let node = pending.pop(); node; node = pending.pop()) {
      if (!isTag(node)) continue;
      const name = localName(node);
      if (name === 'table-header-rows' || name === 'table-rows' || name === 'table-row-group') {
        pending.push(...[...node.children].reverse());
        continue;
      }
      if (name !== 'table-row') continue;
      const cells: SpannedCell[] = [];
      for (const cell of node.children) {
        if (!isTag(cell) || localName(cell) !== 'table-cell') continue;
        const text = oneLine(this.blocks(cell.children));
        const colSpan = spanCount(attribute(cell, 'number-columns-spanned'), MAX_COL_SPAN);
        const rowSpan = spanCount(attribute(cell, 'number-rows-spanned'), MAX_ROW_SPAN);
        const repeats = repeatOf(cell, 'number-columns-repeated');
        for (let copy = 0; copy < repeats; copy++) cells.push({ text, colSpan, rowSpan });
      }
      // Trailing empty cells are layout (a row repeated to the page's width), not content.
      while (cells.length && !cells[cells.length - 1]?.text && cells[cells.length - 1]?.rowSpan === 1) cells.pop();
      if (!cells.length) continue;
      const copies = repeatOf(node, 'number-rows-repeated');
      // A row's text, separators included, times its copies: before the copies are made or joined.
      this.output.take(
        cells.reduce((sum, cell) => sum + (cell.text.length + 3) * cell.colSpan, 0),
        copies,
      );
      for (let copy = copies; copy > 0; copy--) rows.push(cells);
    }
    return { type: 'table', rows: layOutTable(rows) };
  }

  /** A paragraph or heading, then the paragraphs of any text box anchored in it. */
  private paragraph(element: Element, blocks: Block[], make: (inlines: Inline[]) => Block): void {
    const out = new InlineBuilder();
    const after: Block[] = [];
    // An explicit stack: spans may nest as deep as the XML caps allow.
    const pending: Array<AnyNode | 'end-link'> = [...element.children].reverse();
    for (let node = pending.pop(); node; node = pending.pop()) {
      if (node === 'end-link') {
        out.endLink();
        continue;
      }
      if (isText(node)) {
        out.text(node.data);
        continue;
      }
      if (!isTag(node)) {
        if (hasChildren(node)) pending.push(...[...node.children].reverse()); // CDATA
        continue;
      }
      if (isSkipped(node)) continue;
      switch (localName(node)) {
        case 's': {
          const count = Number.parseInt(attribute(node, 'c') ?? '1', 10);
          out.literal(' '.repeat(Number.isInteger(count) ? Math.min(Math.max(count, 1), MAX_SPACES) : 1));
          break;
        }
        case 'tab':
          out.literal('\t');
          break;
        case 'line-break':
          out.literal('\n');
          break;
        case 'note':
          out.literal(`[${this.footnote(node)}]`);
          break;
        case 'frame':
        case 'text-box':
        case 'g': {
          // Text boxes hold paragraphs of their own: they follow the paragraph they are anchored in.
          const inner = this.blocks(node.children);
          const figure = localName(node) === 'frame' ? this.figure(node, this.captionNear(element, inner)) : undefined;
          if (figure) after.push(figure);
          after.push(...inner);
          break;
        }
        case 'a':
          out.beginLink(attribute(node, 'href') ?? '');
          pending.push('end-link', ...[...node.children].reverse());
          break;
        default:
          // Spans, fields (dates, page numbers, references) and the like: their text, in place.
          pending.push(...[...node.children].reverse());
      }
    }
    const block = make(out.inlines);
    if (blocksToText([block], '')) blocks.push(block);
    blocks.push(...after);
  }

  /** A labelled caption ("Illustration 1: …") in the frame's own text, or its paragraph's. */
  private captionNear(paragraph: Element, inner: readonly Block[]): string {
    if (!this.pictures) return '';
    const candidates = [...inner.map((block) => blocksToText([block], ' ')), textOf(paragraph)];
    return candidates.map((text) => text.replace(/\s+/g, ' ').trim()).find((text) => isCaptionLine(text)) ?? '';
  }

  /** Keeps a footnote's or endnote's text for the end, `[label]` first; returns the label. */
  private footnote(note: Element): string {
    this.notes += 1;
    const citation = childrenNamed(note, 'note-citation')[0];
    const label = (citation ? textOf(citation).trim() : '') || String(this.notes);
    const body = childrenNamed(note, 'note-body')[0];
    const blocks = body ? this.blocks(body.children) : [];
    const [first, ...rest] = blocks;
    if (first?.type === 'paragraph')
      this.footnotes.push({ type: 'paragraph', inlines: [`[${label}] `, ...first.inlines] }, ...rest);
    else this.footnotes.push({ type: 'paragraph', inlines: [`[${label}]`] }, ...blocks);
    return label;
  }
}

const repeatOf = (element: Element, name: string): number => {
  const count = Number.parseInt(attribute(element, name) ?? '1', 10);
  return Number.isInteger(count) ? Math.min(Math.max(count, 1), MAX_REPEAT) : 1;
};

/** The list styles the body's lists name, from content.xml and, when one is missing there, styles.xml. */
const listStylesOf = async (archive: ZipArchive, content: XmlDocument, body: Element, input: LoadInput) => {
  const styles: ListStyles = new Map();
  addListStyles(content, styles);
  const named = descendants(body, 'list').flatMap((list) => attribute(list, 'style-name') ?? []);
  if (named.some((name) => !styles.has(name)) && archive.has('styles.xml')) {
    addListStyles(await readXmlPart(archive, 'styles.xml', input.limits, input.checkpoint, 'ODT'), styles);
  }
  return styles;
};

/** The pictures the body's frames show (`draw:image xlink:href`) that the package holds, within the figures' byte budget. */
const picturesOf = async (archive: ZipArchive, body: Element, collector: FigureCollector) => {
  const pictures = new Map<string, Uint8Array>();
  let budget = collector.limits.maxFigureTotalBytes;
  for (const image of descendants(body, 'image')) {
    const href = attribute(image, 'href') ?? '';
    const path = href.replace(/^\.\//, '');
    if (!href || pictures.has(href) || /^[a-z][a-z0-9+.-]*:/i.test(href) || !archive.has(path)) continue;
    const bytes = await archive.read(path);
    budget -= bytes.length;
    if (budget < 0) break;
    pictures.set(href, bytes);
  }
  return pictures;
};

export const loadOdt: Loader = async (given) => {
  const { checkpoint, typed } = readerErrors(given, 'ODT');
  const input: LoadInput = { ...given, checkpoint };
  const archive = await ZipArchive.ofDocument(input, 'ODT');
  let text: string;
  try {
    await input.checkpoint();
    const content = await readXmlPart(archive, 'content.xml', input.limits, input.checkpoint, 'ODT');
    input.onProgress?.(0.5);
    const body = descendants(content, 'body')
      .flatMap((element) => childrenNamed(element, 'text'))
      .at(0);
    if (!body) throw new AppError('DOCUMENT_PARSE_ERROR', 'The ODT file has no text body (office:text).');
    const markdown = input.outputFormat === 'markdown';
    const reader = new OdtReader(
      markdown ? await listStylesOf(archive, content, body, input) : undefined,
      new OutputBudget(input.limits, 'ODT'),
      input.figures ? { collector: input.figures, bytes: await picturesOf(archive, body, input.figures) } : undefined,
    );
    await input.checkpoint();
    const blocks = [...reader.blocks(body.children), ...reader.footnotes];
    text = markdown ? blocksToMarkdown(blocks) : blocksToText(blocks, '\n\n');
  } catch (error) {
    throw typed(error);
  } finally {
    archive.close();
  }
  input.onProgress?.(1);
  return singleDocument(input, text);
};
