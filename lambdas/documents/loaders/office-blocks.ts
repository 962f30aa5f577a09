import { Document as DomDocument, Element, Text, type ChildNode } from 'domhandler';
import { AppError } from '../../errors.js';
import { domToMarkdown, figureElement } from './html-markdown.js';
import type { LoadInput } from './types.js';

/**
 * The structure PPTX and ODT readers extract (headings, paragraphs, lists,
 * tables, links), rendered as either output format. Markdown goes through
 * the HTML Markdown writer (html-markdown.ts) on a DOM built here directly:
 * the same escaping, nested lists and GFM tables as HTML and DOCX, with no
 * HTML text serialised and parsed again.
 */

/** A run of text (`\n` is a line break inside the paragraph), or a link. */
export type Inline = string | { text: string; href: string };

export type Block =
  | { type: 'heading'; level: number; inlines: Inline[] }
  | { type: 'paragraph'; inlines: Inline[] }
  | { type: 'list'; ordered: boolean; items: Block[][] }
  /** Each row's cells, as one line of text each. */
  | { type: 'table'; rows: string[][] }
  /** A figure where it stands (option `figures`); text output keeps a caption the page does not show itself. */
  | { type: 'figure'; id: string; caption: string; captionShown: boolean };

export { textOf } from './dom-text.js';

export const inlineText = (inlines: readonly Inline[]): string =>
  inlines.map((inline) => (typeof inline === 'string' ? inline : inline.text)).join('');

/**
 * Text of a block on one line: what a table cell or a title holds. Lists
 * keep their marks ("- a - b", "1. one 2. two": a cell's items would
 * otherwise run together) and a table inside reads as its cells in order.
 */
export const oneLine = (blocks: readonly Block[]): string =>
  blocksToText(blocks, ' ', true).replace(/\s+/g, ' ').trim();

const trimLines = (text: string): string =>
  text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join('\n');

/**
 * Plain text: headings and paragraphs as they read, one `separator` between
 * blocks and list items (no bullet marks, as DOCX's text output), each table
 * row on one line with its cells separated by ` | `.
 */
export const blocksToText = (blocks: readonly Block[], separator: string, inline = false): string => {
  const parts: string[] = [];
  for (const block of blocks) {
    let text: string;
    switch (block.type) {
      case 'heading':
      case 'paragraph':
        text = trimLines(inlineText(block.inlines));
        break;
      case 'list':
        text = block.items
          .map((item) => blocksToText(item, separator, inline))
          .filter(Boolean)
          .map((item, index) => (inline ? `${block.ordered ? `${index + 1}.` : '-'} ${item}` : item))
          .join(separator);
        break;
      case 'figure':
        text = block.captionShown ? '' : block.caption;
        break;
      case 'table':
        text = inline
          ? block.rows.flat().filter(Boolean).join(' ')
          : block.rows
              .map((row) => row.join(' | ').trim())
              .filter((row) => row.replaceAll('|', '').trim())
              .join('\n');
        break;
    }
    if (text) parts.push(text);
  }
  return parts.join(separator);
};

/** The Markdown writer reads names, attributes and children only; parent links are not needed. */
const element = (name: string, children: ChildNode[], attribs: Record<string, string> = {}): Element =>
  new Element(name, attribs, children);

const inlineNodes = (inlines: readonly Inline[]): ChildNode[] => {
  const nodes: ChildNode[] = [];
  for (const inline of inlines) {
    if (typeof inline !== 'string') {
      nodes.push(element('a', [new Text(inline.text)], { href: inline.href }));
      continue;
    }
    inline.split('\n').forEach((line, index) => {
      if (index > 0) nodes.push(element('br', []));
      if (line) nodes.push(new Text(line));
    });
  }
  return nodes;
};

/**
 * Blocks as HTML elements, an explicit stack rather than recursion: lists
 * may nest as deep as the XML caps allow.
 */
const blockNodes = (blocks: readonly Block[]): ChildNode[] => {
  const root: ChildNode[] = [];
  const pending: Array<{ blocks: readonly Block[]; into: ChildNode[] }> = [{ blocks, into: root }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    for (const block of next.blocks) {
      switch (block.type) {
        case 'heading':
          next.into.push(element(`h${Math.min(Math.max(block.level, 1), 6)}`, inlineNodes(block.inlines)));
          break;
        case 'paragraph':
          next.into.push(element('p', inlineNodes(block.inlines)));
          break;
        case 'list': {
          // Each item's children array is filled when its blocks come off the stack.
          const items = block.items.map((item) => {
            const children: ChildNode[] = [];
            pending.push({ blocks: item, into: children });
            return element('li', children);
          });
          next.into.push(element(block.ordered ? 'ol' : 'ul', items));
          break;
        }
        case 'figure':
          next.into.push(element('p', [figureElement(block.id, block.caption)]));
          break;
        case 'table':
          next.into.push(
            element(
              'table',
              block.rows.map((row) =>
                element(
                  'tr',
                  row.map((cell) => element('td', cell ? [new Text(cell)] : [])),
                ),
              ),
            ),
          );
          break;
      }
    }
  }
  return root;
};

/** GFM Markdown, as HTML and DOCX produce it: `#` headings, `-`/`1.` lists, tables, links. */
export const blocksToMarkdown = (blocks: readonly Block[]): string =>
  domToMarkdown(new DomDocument(blockNodes(blocks))).trim();

/**
 * Flat list paragraphs (a level each, as slides store bullets) as nested
 * lists: a deeper item nests under the one before it.
 */
export const nestItems = (items: ReadonlyArray<{ level: number; ordered: boolean; block: Block }>): Block[] => {
  const top: Block[] = [];
  // The open lists, outermost first, each with the level it holds.
  const open: Array<{ level: number; list: Extract<Block, { type: 'list' }> }> = [];
  for (const { level, ordered, block } of items) {
    while (open.length && (open[open.length - 1]?.level ?? 0) > level) open.pop();
    let current = open[open.length - 1];
    if (!current || current.level < level || current.list.ordered !== ordered) {
      if (current && current.level === level) open.pop();
      const list: Extract<Block, { type: 'list' }> = { type: 'list', ordered, items: [] };
      const parent = open[open.length - 1];
      const lastItem = parent?.list.items[parent.list.items.length - 1];
      if (lastItem) lastItem.push(list);
      else if (parent) parent.list.items.push([list]);
      else top.push(list);
      current = { level, list };
      open.push(current);
    }
    current.list.items.push([block]);
  }
  return top;
};

/**
 * Maps what a zip-based reader throws to a typed error, except what the
 * checkpoint threw: cancellation (a RunStopped, the deadline's AppError)
 * must leave the loader as it came, not as a damaged document.
 */
export const readerErrors = (
  input: Pick<LoadInput, 'checkpoint'>,
  kind: string,
): { checkpoint: () => Promise<void>; typed: (error: unknown) => unknown } => {
  const stops = new Set<unknown>();
  return {
    checkpoint: async () => {
      try {
        await input.checkpoint();
      } catch (error) {
        stops.add(error);
        throw error;
      }
    },
    typed: (error) =>
      error instanceof AppError || stops.has(error)
        ? error
        : new AppError('DOCUMENT_PARSE_ERROR', `The ${kind} file could not be read; it may be damaged.`, {
            cause: error,
          }),
  };
};
