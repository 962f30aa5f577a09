import { load } from 'cheerio/slim';
import { isDocument, isTag, isText, type AnyNode, type Element } from 'domhandler';
import { charsetOf, decodeText } from '../encoding.js';
import { baseMetadata, type Loader } from './types.js';
import { checkTextSize } from './text.js';

/** Elements whose content is never document text. */
const DROPPED = new Set([
  'head',
  'script',
  'style',
  'noscript',
  'template',
  'svg',
  'math',
  'canvas',
  'iframe',
  'object',
  'embed',
  'video',
  'audio',
  'map',
  'button',
  'select',
  'input',
  'textarea',
  'nav',
]);

/** Site chrome when it frames the page, but content inside an article or section. */
const CHROME = new Set(['header', 'footer', 'aside']);
const CONTENT_CONTAINERS = new Set(['article', 'main', 'section']);

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

const isHidden = (element: Element): boolean =>
  element.attribs.hidden !== undefined || element.attribs['aria-hidden'] === 'true';

const walk = (node: AnyNode, out: TextBuilder, inPre: boolean, inContent: boolean): void => {
  if (isText(node)) {
    if (inPre) out.preformatted(node.data);
    else out.inline(node.data);
    return;
  }
  if (isDocument(node)) {
    for (const child of node.children) walk(child, out, inPre, inContent);
    return;
  }
  if (!isTag(node)) return;
  const name = node.name.toLowerCase();
  if (DROPPED.has(name) || isHidden(node) || (CHROME.has(name) && !inContent)) return;
  if (name === 'br') {
    out.block(1);
    return;
  }
  const newlines = PARAGRAPHS.has(name) ? 2 : LINES.has(name) ? 1 : 0;
  if (newlines) out.block(newlines);
  if (CELLS.has(name)) out.tab();
  const childInContent = inContent || CONTENT_CONTAINERS.has(name);
  for (const child of node.children) walk(child, out, inPre || name === 'pre', childInContent);
  if (newlines) out.block(newlines);
};

export const htmlToText = (html: string): { title: string; text: string } => {
  const $ = load(html);
  const title = $('title').first().text().replace(/\s+/g, ' ').trim();
  const out = new TextBuilder();
  walk($.root()[0] as AnyNode, out, false, false);
  return { title, text: out.toString().trim() };
};

/** HTML: one document, non-content removed, `title` in the metadata. */
export const loadHtml: Loader = async (input) => {
  checkTextSize(input.bytes, input.limits, 'HTML');
  const { text: html } = decodeText(input.bytes, { html: true, declaredCharset: charsetOf(input.contentType) });
  await input.checkpoint();
  const { title, text } = htmlToText(html);
  input.onProgress?.(1);
  if (!text) return { documents: [] };
  return { documents: [{ page_content: text, metadata: { ...baseMetadata(input), title } }] };
};
