import { DomHandler, hasChildren, isDocument, isTag, isText, type AnyNode, type Document } from 'domhandler';
import { Parser, type Handler } from 'htmlparser2';
import { AppError } from '../../errors.js';
import { DEFAULT_LIMITS, type ProcessingLimits } from '../limits.js';
import { charsetOf, decodeText } from '../encoding.js';
import type { OutputFormat } from '../options.js';
import { CONTENT_CONTAINERS, isBoilerplate } from './html-content.js';
import { domToMarkdown } from './html-markdown.js';
import { dataUriBytes, figureOfImage, type HtmlFigures } from './html-figures.js';
import { textOf } from './dom-text.js';
import { baseMetadata, type Loader } from './types.js';
import { checkTextSize } from './text.js';

const PARAGRAPHS = new Set([
  'p',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'pre',
  'table',
  'ul',
  'ol',
  'dl',
  'figure',
  'hr',
]);
const LINES = new Set([
  'address',
  'article',
  'body',
  'dd',
  'details',
  'dialog',
  'div',
  'dt',
  'fieldset',
  'figcaption',
  'form',
  'header',
  'footer',
  'html',
  'legend',
  'li',
  'main',
  'section',
  'summary',
  'tr',
  'caption',
  'aside',
  'center',
]);
const CELLS = new Set(['td', 'th']);

/**
 * Builds text the way a browser's `innerText` reads: whitespace collapsed
 * outside `<pre>`, a line break around block elements, a blank line around
 * paragraphs and headings, tabs between table cells.
 */
class TextBuilder {
  private readonly parts: string[] = [];
  private pendingBreak = 0;
  private pendingSpace = false;
  private atLineStart = true;

  inline(text: string): void {
    const collapsed = text.replace(/[ \t\n\r\f]+/g, ' ');
    if (collapsed === ' ') {
      this.pendingSpace = true;
      return;
    }
    if (!collapsed) return;
    const leading = collapsed.startsWith(' ');
    const trailing = collapsed.endsWith(' ');
    this.emit(collapsed.trim(), leading);
    this.pendingSpace = trailing;
  }

  preformatted(text: string): void {
    if (text) this.emit(text, false);
  }

  tab(): void {
    if (!this.atLineStart) {
      this.parts.push('\t');
      this.pendingSpace = false;
    }
  }

  block(newlines: number): void {
    this.pendingBreak = Math.max(this.pendingBreak, newlines);
    this.pendingSpace = false;
  }

  toString(): string {
    return this.parts.join('');
  }

  private emit(text: string, spaceBefore: boolean): void {
    if (this.parts.length > 0 && this.pendingBreak > 0) {
      this.parts.push('\n'.repeat(this.pendingBreak));
      this.atLineStart = true;
    } else if ((spaceBefore || this.pendingSpace) && !this.atLineStart) {
      this.parts.push(' ');
    }
    this.pendingBreak = 0;
    this.pendingSpace = false;
    this.parts.push(text);
    this.atLineStart = text.endsWith('\n');
  }
}

/** Work items of the walk: a node to read, or the end of an element whose trailing break is still due. */
type Step = { node: AnyNode; inPre: boolean; inContent: boolean } | { close: number };

/**
 * Reads the tree in document order with an explicit stack: a recursive walk
 * overflows the call stack on deeply nested markup (about 10,000 levels).
 */
const walk = (root: AnyNode, out: TextBuilder, figures?: HtmlFigures): void => {
  const steps: Step[] = [{ node: root, inPre: false, inContent: false }];
  for (let step = steps.pop(); step; step = steps.pop()) {
    if ('close' in step) {
      out.block(step.close);
      continue;
    }
    const { node, inPre, inContent } = step;
    if (isText(node)) {
      if (inPre) out.preformatted(node.data);
      else out.inline(node.data);
      continue;
    }
    let children: AnyNode[];
    let childPre = inPre;
    let childContent = inContent;
    if (isDocument(node)) {
      children = node.children;
    } else if (isTag(node)) {
      const name = node.name.toLowerCase();
      if (isBoilerplate(node, inContent)) continue;
      if (name === 'br') {
        out.block(1);
        continue;
      }
      if (name === 'img') {
        // Text output keeps a picture's caption: an attribute's on a line of its own, for a picture that stands
        // alone (a figcaption is read as text; an inline picture's caption is in result.figures only).
        const placed = figureOfImage(node, figures);
        if (placed && placed.caption && !placed.shown && placed.alone) {
          out.block(1);
          out.inline(placed.caption);
          out.block(1);
        }
        continue;
      }
      const newlines = PARAGRAPHS.has(name) ? 2 : LINES.has(name) ? 1 : 0;
      if (newlines) {
        out.block(newlines);
        steps.push({ close: newlines });
      }
      if (CELLS.has(name)) out.tab();
      children = node.children;
      childPre = inPre || name === 'pre';
      childContent = inContent || CONTENT_CONTAINERS.has(name);
    } else {
      continue;
    }
    for (let index = children.length - 1; index >= 0; index--) {
      steps.push({ node: children[index] as AnyNode, inPre: childPre, inContent: childContent });
    }
  }
};

/** Text of the first `<title>`, whitespace collapsed (found without recursion, like the walk). */
const titleOf = (root: AnyNode): string => {
  const pending: AnyNode[] = [root];
  for (let node = pending.pop(); node; node = pending.pop()) {
    if (isTag(node) && node.name === 'title') return textOf(node).replace(/\s+/g, ' ').trim();
    if (hasChildren(node))
      for (let index = node.children.length - 1; index >= 0; index--) pending.push(node.children[index] as AnyNode);
  }
  return '';
};

export type HtmlLimits = Pick<ProcessingLimits, 'maxHtmlDepth' | 'maxHtmlTags'>;

/**
 * Counts every closing tag as the tokenizer reports it, matched or not: the
 * parser searches its open-element stack for each one, so stray closing
 * tags cost as much as the depth.
 */
class CountingParser extends Parser {
  constructor(
    handler: Partial<Handler>,
    private readonly countTag: () => void,
    xmlMode: boolean,
  ) {
    super(handler, { decodeEntities: true, xmlMode });
  }

  override onclosetag(start: number, endIndex: number): void {
    this.countTag();
    super.onclosetag(start, endIndex);
  }
}

/** Characters handed to the parser at a time, with a checkpoint between them. */
const PARSE_CHUNK = 1 << 20;

/**
 * Parses with htmlparser2 (what cheerio uses), counting open elements as the
 * parser reports them. Nesting is capped because the parser's open-element
 * stack grows at its front and is searched on every closing tag: parsing is
 * quadratic in depth (2.2 MB of unclosed tags took 87 s). The caps stop it
 * at the tag that crosses them, so parsing stays linear in the input.
 */
export const parseHtml = async (
  html: string,
  limits: HtmlLimits = DEFAULT_LIMITS,
  checkpoint: () => Promise<void> = async () => {},
  /** XML parts of office documents and e-books (see xml.ts): XML's rules, the same caps. */
  { xmlMode = false, kind = 'HTML' }: { xmlMode?: boolean; kind?: string } = {},
): Promise<Document> => {
  const handler = new DomHandler(undefined, { withStartIndices: false, withEndIndices: false });
  let depth = 0;
  let tags = 0;
  const countTag = () => {
    if (++tags > limits.maxHtmlTags) {
      throw new AppError('DOCUMENT_TOO_LARGE', `The ${kind} has more than ${limits.maxHtmlTags} tags.`);
    }
  };
  const parser = new CountingParser(
    {
      onparserinit: (p) => handler.onparserinit(p),
      onreset: () => handler.onreset(),
      onend: () => handler.onend(),
      onerror: (error) => handler.onerror(error),
      onopentag: (name, attribs) => {
        countTag();
        if (++depth > limits.maxHtmlDepth) {
          throw new AppError(
            'DOCUMENT_PARSE_ERROR',
            `The ${kind} nests elements more than ${limits.maxHtmlDepth} levels deep; no real document does.`,
          );
        }
        handler.onopentag(name, attribs);
      },
      onclosetag: () => {
        depth--;
        handler.onclosetag();
      },
      ontext: (text) => handler.ontext(text),
      oncomment: (text) => handler.oncomment(text),
      oncommentend: () => handler.oncommentend(),
      oncdatastart: () => handler.oncdatastart(),
      oncdataend: () => handler.oncdataend(),
      onprocessinginstruction: (name, data) => handler.onprocessinginstruction(name, data),
    },
    countTag,
    xmlMode,
  );
  for (let at = 0; at < html.length; at += PARSE_CHUNK) {
    parser.write(html.slice(at, at + PARSE_CHUNK));
    await checkpoint();
  }
  parser.end();
  return handler.root;
};

export const htmlToText = async (
  html: string,
  limits?: HtmlLimits,
  checkpoint?: () => Promise<void>,
  outputFormat: OutputFormat = 'text',
  figures?: HtmlFigures,
): Promise<{ title: string; text: string }> => {
  const root = await parseHtml(html, limits, checkpoint);
  if (outputFormat === 'markdown') return { title: titleOf(root), text: domToMarkdown(root, figures).trim() };
  const out = new TextBuilder();
  walk(root, out, figures);
  return { title: titleOf(root), text: out.toString().trim() };
};

/** HTML: one document, non-content removed, `title` in the metadata. */
export const loadHtml: Loader = async (input) => {
  checkTextSize(input.bytes, input.limits, 'HTML');
  const { text: html } = decodeText(input.bytes, { html: true, declaredCharset: charsetOf(input.contentType) });
  await input.checkpoint();
  const figures = input.figures ? { collector: input.figures, resolve: dataUriBytes, base: input.source } : undefined;
  const { title, text } = await htmlToText(html, input.limits, input.checkpoint, input.outputFormat, figures);
  input.onProgress?.(1);
  if (!text) return { documents: [] };
  return { documents: [{ page_content: text, metadata: { ...baseMetadata(input), title } }] };
};
