import { Element as DomElement, isDocument, isTag, isText, type AnyNode, type Element } from 'domhandler';
import { CONTENT_CONTAINERS, isBoilerplate } from './html-content.js';
import { figureMarkdown } from '../figures/captions.js';
import { figureOfImage, type HtmlFigures } from './html-figures.js';
import { layOutTable, MAX_COL_SPAN, MAX_ROW_SPAN, spanCount, type SpannedCell } from './table-grid.js';

/**
 * An HTML tree as Markdown (GFM): headings with their level, paragraphs,
 * bullet and numbered lists (nested), links, code, quotes, rules, and tables
 * with one Markdown row per source row. Used for HTML and, through mammoth's
 * HTML, for DOCX.
 *
 * Written here rather than taken from turndown or node-html-markdown: both
 * recurse once per element level (a page nested 10,000 deep overflows the
 * stack, the crash this service already had with HTML), and both walk a DOM
 * of their own, so the page would be parsed twice and the boilerplate rules
 * kept twice. This walk is iterative, over the tree `parseHtml` built within
 * its depth and tag caps, with the text reading's content rules.
 */

type ContainerKind =
  'root' | 'heading' | 'list' | 'item' | 'quote' | 'table' | 'row' | 'cell' | 'link' | 'code' | 'pre';

interface Container {
  kind: ContainerKind;
  /** Finished blocks (paragraphs, lists, tables…), in order. */
  blocks: string[];
  /** Inline text of the paragraph being read, whitespace not yet collapsed at the ends. */
  inline: string;
  /** A row's cells; a table's rows. */
  cells: SpannedCell[];
  rows: SpannedCell[][];
  /**
   * Rows met outside any table, kept together until other content comes:
   * htmlparser2 closes a table at a stray end tag (`<center><table></center><tr>…`,
   * common on old pages) where a browser keeps it open.
   */
  orphanRows: SpannedCell[][];
  /** Heading level; list ordering and items so far; the link's target; a cell's spans. */
  level: number;
  ordered: boolean;
  items: number;
  href: string;
  colSpan: number;
  rowSpan: number;
}

const container = (kind: ContainerKind, fields: Partial<Container> = {}): Container => ({
  kind,
  blocks: [],
  inline: '',
  cells: [],
  rows: [],
  orphanRows: [],
  level: 0,
  ordered: false,
  items: 0,
  href: '',
  colSpan: 1,
  rowSpan: 1,
  ...fields,
});

const HEADINGS: Record<string, number> = { h1: 1, h2: 2, h3: 3, h4: 4, h5: 5, h6: 6 };

/** Elements that end the paragraph before them and start a new one after. */
const BLOCKS = new Set([
  'address',
  'article',
  'aside',
  'body',
  'caption',
  'center',
  'dd',
  'details',
  'dialog',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'form',
  'header',
  'html',
  'legend',
  'main',
  'p',
  'section',
  'summary',
]);

/** Inline containers and cells read as one line; everything else keeps its blocks. */
const ONE_LINE = new Set<ContainerKind>(['heading', 'cell', 'link', 'code']);

const collapse = (text: string) => text.replace(/[ \t\n\r\f]+/g, ' ');

/** A paragraph that would read as Markdown syntax at its start is escaped. */
const escapeParagraph = (text: string) =>
  text.replace(/^(\d+)([.)] )/, '$1\\$2').replace(/^([#>]|[-+*] |```|~~~|---\s*$|===\s*$)/, '\\$1');

const escapeCell = (text: string) => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');

const SAFE_LINK = /^(https?:|mailto:|#|\/|\.\.?\/)/i;

class MarkdownBuilder {
  private readonly stack: Container[] = [container('root')];

  get top(): Container {
    return this.stack[this.stack.length - 1] as Container;
  }

  /** Source whitespace is one space; line breaks come from `<br>` only. */
  text(data: string): void {
    this.top.inline += collapse(data);
  }

  /** A figure's reference where it stands, as Markdown (never escaped as text). */
  figure(markdown: string): void {
    this.top.inline += this.top.inline && !/\s$/.test(this.top.inline) ? ` ${markdown}` : markdown;
  }

  /** Preformatted text, as it is. */
  raw(data: string): void {
    this.top.inline += data;
  }

  lineBreak(): void {
    if (ONE_LINE.has(this.top.kind)) this.top.inline += ' ';
    else this.top.inline += '\n';
  }

  /** Rows met outside a table become one table, before whatever comes next. */
  private settleOrphanRows(target: Container): void {
    if (!target.orphanRows.length) return;
    const rows = target.orphanRows;
    target.orphanRows = [];
    this.addBlock(target, renderTable(rows));
  }

  /** Ends the paragraph being read, as a block of the innermost container. */
  flush(): void {
    const top = this.top;
    if (top.kind === 'pre') return;
    // Paragraphs inside a cell or heading are one line: their boundary is a space.
    if (ONE_LINE.has(top.kind)) {
      top.inline += ' ';
      return;
    }
    const paragraph = top.inline
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .join('\n');
    top.inline = '';
    if (!paragraph) return;
    this.settleOrphanRows(top);
    top.blocks.push(escapeParagraph(paragraph));
  }

  rule(): void {
    this.flush();
    this.top.blocks.push('---');
  }

  open(kind: ContainerKind, fields?: Partial<Container>): void {
    if (!ONE_LINE.has(kind) || kind === 'heading' || kind === 'cell') this.flush();
    this.stack.push(container(kind, fields));
  }

  /** A finished block; inside a heading, cell or link it is read as part of that one line. */
  private addBlock(parent: Container, block: string): void {
    if (ONE_LINE.has(parent.kind)) {
      parent.inline += ` ${collapse(block)} `;
      return;
    }
    this.settleOrphanRows(parent);
    parent.blocks.push(block);
  }

  close(): void {
    this.flush();
    const done = this.stack.pop() as Container;
    this.settleOrphanRows(done);
    const parent = this.top;
    switch (done.kind) {
      case 'heading': {
        const text = collapse(done.inline).trim();
        // A heading inside a cell or another heading is that line's text.
        if (text && ONE_LINE.has(parent.kind)) parent.inline += ` ${text} `;
        else if (text) this.addBlock(parent, `${'#'.repeat(done.level)} ${text}`);
        break;
      }
      case 'link': {
        const text = collapse(done.inline).trim();
        parent.inline += text && done.href ? `[${text.replace(/[[\]]/g, '\\$&')}](${done.href})` : ` ${text} `;
        break;
      }
      case 'code': {
        const text = collapse(done.inline).trim();
        const fence = text.includes('`') ? '``' : '`';
        parent.inline += text ? `${fence}${text}${fence}` : '';
        break;
      }
      case 'pre': {
        const text = done.inline.replace(/^\n/, '').replace(/\s+$/, '');
        const fence = text.includes('```') ? '````' : '```';
        if (text) this.addBlock(parent, `${fence}\n${text}\n${fence}`);
        break;
      }
      case 'item': {
        if (!done.blocks.length) break;
        parent.items += 1;
        const marker = parent.ordered ? `${parent.items}. ` : '- ';
        const indent = ' '.repeat(marker.length);
        const lines = done.blocks.join('\n').split('\n');
        this.addBlock(
          parent,
          lines.map((line, index) => (index === 0 ? marker : line ? indent : '') + line).join('\n'),
        );
        break;
      }
      case 'list': {
        if (!done.blocks.length) break;
        const list = done.blocks.join('\n');
        // A list directly inside a list (`<ul><li>a</li><ul>…</ul></ul>`) is shown, as browsers do, under the item before it.
        const indent = parent.kind === 'list' ? ' '.repeat(parent.ordered ? 3 : 2) : '';
        this.addBlock(parent, indent ? list.replace(/^(?=.)/gm, indent) : list);
        break;
      }
      case 'quote': {
        const text = done.blocks.join('\n\n');
        if (text) this.addBlock(parent, text.replace(/^/gm, '> ').replace(/^> $/gm, '>'));
        break;
      }
      case 'cell': {
        const text = collapse(done.inline).trim();
        parent.cells.push({ text, colSpan: done.colSpan, rowSpan: done.rowSpan });
        break;
      }
      case 'row': {
        const table = this.nearest('table');
        if (table) table.rows.push(done.cells);
        else if (done.cells.length) parent.orphanRows.push(done.cells);
        break;
      }
      case 'table': {
        // A table inside a cell (or heading) reads as its cells in order: a line cannot hold a table.
        if (ONE_LINE.has(parent.kind)) {
          parent.inline += ` ${done.rows
            .flat()
            .map((cell) => cell.text)
            .filter(Boolean)
            .join(' ')} `;
        } else if (done.rows.some((row) => row.length)) parent.blocks.push(renderTable(done.rows));
        break;
      }
      case 'root':
        break;
    }
  }

  nearest(kind: ContainerKind): Container | undefined {
    for (let index = this.stack.length - 1; index >= 0; index--) {
      if ((this.stack[index] as Container).kind === kind) return this.stack[index];
    }
    return undefined;
  }

  finish(): string {
    while (this.stack.length > 1) this.close();
    this.flush();
    this.settleOrphanRows(this.top);
    return this.top.blocks.join('\n\n');
  }
}

/**
 * GFM: the first row is the header row (GFM requires one); every source row
 * with cells of its own is one Markdown row, spans laid out (table-grid.ts).
 */
const renderTable = (cells: SpannedCell[][]): string => {
  const rows = layOutTable(cells).filter((_, index) => cells[index]?.length);
  const [head = [], ...body] = rows;
  const width = Math.max(...rows.map((row) => row.length));
  const line = (cells: string[]) =>
    `| ${Array.from({ length: width }, (_, index) => escapeCell(cells[index] ?? '')).join(' | ')} |`;
  return [line(head), line(Array.from({ length: width }, () => '---')), ...body.map(line)].join('\n');
};

type Step = { node: AnyNode; inContent: boolean; inPre: boolean } | { close: true } | { endBlock: true };

/** Opens the containers an element starts; returns how many (each is closed after the element). */
const openFor = (out: MarkdownBuilder, element: Element, name: string, inPre: boolean): number => {
  const level = HEADINGS[name];
  if (level) {
    out.open('heading', { level });
    return 1;
  }
  switch (name) {
    case 'ul':
    case 'ol':
    case 'menu':
      out.open('list', { ordered: name === 'ol' });
      return 1;
    case 'li': {
      // An item outside a list gets a list of its own.
      const implicitList = out.top.kind !== 'list';
      if (implicitList) out.open('list');
      out.open('item');
      return implicitList ? 2 : 1;
    }
    case 'blockquote':
      out.open('quote');
      return 1;
    case 'table':
      out.open('table');
      return 1;
    case 'tr':
      out.open('row');
      return 1;
    case 'td':
    case 'th':
      out.open('cell', {
        colSpan: spanCount(element.attribs.colspan, MAX_COL_SPAN),
        rowSpan: spanCount(element.attribs.rowspan, MAX_ROW_SPAN),
      });
      return 1;
    case 'pre':
      out.open('pre');
      return 1;
    case 'code':
      if (inPre) return 0;
      out.open('code');
      return 1;
    case 'a': {
      const href = (element.attribs.href ?? '').trim();
      out.open('link', { href: SAFE_LINK.test(href) && !/[\s()]/.test(href) ? href : '' });
      return 1;
    }
    default:
      return 0;
  }
};

/** Figures placed by a reader that builds its own tree (office-blocks.ts): never an element of a parsed document. */
const PLACED_FIGURES = new WeakMap<Element, { id: string; caption: string }>();

/** An element that stands for a figure already kept, rendered as its reference. */
export const figureElement = (id: string, caption: string): Element => {
  const element = new DomElement('img', {});
  PLACED_FIGURES.set(element, { id, caption });
  return element;
};

export const domToMarkdown = (root: AnyNode, figures?: HtmlFigures): string => {
  const out = new MarkdownBuilder();
  const steps: Step[] = [{ node: root, inContent: false, inPre: false }];
  for (let step = steps.pop(); step; step = steps.pop()) {
    if ('close' in step) {
      out.close();
      continue;
    }
    if ('endBlock' in step) {
      out.flush();
      continue;
    }
    const { node, inContent, inPre } = step;
    if (isText(node)) {
      if (inPre) out.raw(node.data);
      else out.text(node.data);
      continue;
    }
    if (!isDocument(node) && !isTag(node)) continue;
    let childContent = inContent;
    let childPre = inPre;
    if (isTag(node)) {
      const name = node.name.toLowerCase();
      if (isBoilerplate(node, inContent)) continue;
      if (name === 'br') {
        out.lineBreak();
        continue;
      }
      if (name === 'hr') {
        out.rule();
        continue;
      }
      if (name === 'img') {
        const known = PLACED_FIGURES.get(node);
        const placed = known ? undefined : figureOfImage(node, figures);
        if (known) out.figure(figureMarkdown(known.id, known.caption));
        else if (placed) out.figure(figureMarkdown(placed.figure.id, placed.caption));
        continue;
      }
      const opened = openFor(out, node, name, inPre);
      for (let count = 0; count < opened; count++) steps.push({ close: true });
      if (!opened && BLOCKS.has(name)) {
        out.flush();
        steps.push({ endBlock: true });
      }
      childContent = inContent || CONTENT_CONTAINERS.has(name);
      childPre = inPre || name === 'pre';
    }
    for (let index = node.children.length - 1; index >= 0; index--) {
      steps.push({ node: node.children[index] as AnyNode, inContent: childContent, inPre: childPre });
    }
  }
  return out.finish();
};
