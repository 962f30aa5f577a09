import { isTag, isText, type AnyNode, type Element } from 'domhandler';
import type { CaptionSource, Figure, FigureCollector } from '../figures/figures.js';
import { isCaptionLine } from '../figures/captions.js';
import { textOf as rawTextOf } from './dom-text.js';

/**
 * Pictures of an HTML tree as figures (HTML, and through their HTML, DOCX,
 * EPUB and e-mail): each `<img>` whose bytes the document itself holds (a
 * `data:` URI, a part of the uploaded archive, an e-mail's `cid:` part; a
 * remote `src` is never fetched), captioned by its `<figure>`'s
 * `<figcaption>`, else its alt text, else its title.
 */
export interface HtmlFigures {
  collector: FigureCollector;
  /** The bytes an `src` names inside the document, or undefined (a remote or missing picture). */
  resolve: (src: string) => Uint8Array | undefined;
  /** The section the pictures stand in (an EPUB chapter, an attachment). */
  section?: string | undefined;
  /** The page's own address (a URL source), that relative `src`s resolve against. */
  base?: string | undefined;
  /** Per document: whether an element holds text (each element's text is read once), and the pictures looked at. */
  seen?: { hasText: WeakMap<AnyNode, boolean>; images: number } | undefined;
}

/** Pictures looked at per document, past the figures kept: the rest are counted without a caption's search. */
const IMAGES_LOOKED_AT = 40;

/**
 * The address of a picture the document links to: an absolute web address,
 * or a relative one (resolved against the page's address when it has one,
 * else as written). Not `data:` the document failed to hold, nor `cid:`,
 * `javascript:` or a file path.
 */
const linkedAddress = (src: string, base: string | undefined): string | undefined => {
  // Judged as a browser would read it (tabs and newlines dropped, `java\tscript:` is `javascript:`): web addresses only.
  let resolved: URL;
  try {
    resolved = new URL(src, base && /^https?:/i.test(base) ? base : 'https://relative.invalid/');
  } catch {
    return undefined;
  }
  if (resolved.protocol !== 'https:' && resolved.protocol !== 'http:') return undefined;
  if (base && /^https?:/i.test(base)) return resolved.href;
  if (resolved.host !== 'relative.invalid') return resolved.href;
  return src.replace(/[\t\n\r]/g, '');
};

/** How a walker places a figure: its id and caption, and whether the caption is text the page already shows. */
export interface FigureRef {
  figure: Figure;
  caption: string;
  /** The caption is a `<figcaption>` or a labelled paragraph (read with the text anyway), not an attribute. */
  shown: boolean;
  /** The picture is a block of its own (no text beside it in its paragraph): text output gives its caption a line. */
  alone: boolean;
}

const DATA_URI = /^data:([a-z]+\/[a-z0-9.+-]+)?((?:;[a-z0-9-]+=[^;,]*)*)(;base64)?,/i;

/** The bytes of a `data:` URI, or undefined. */
export const dataUriBytes = (src: string): Uint8Array | undefined => {
  const match = DATA_URI.exec(src);
  if (!match) return undefined;
  const payload = src.slice(match[0].length);
  if (match[3]) return new Uint8Array(Buffer.from(payload.replace(/\s+/g, ''), 'base64'));
  try {
    return new TextEncoder().encode(decodeURIComponent(payload));
  } catch {
    return undefined;
  }
};

/** Whether the element holds any text, read once per element (a picture's ancestors are shared by its siblings). */
const hasText = (element: Element, figures: HtmlFigures | undefined): boolean => {
  const memo = figures?.seen?.hasText;
  const known = memo?.get(element);
  if (known !== undefined) return known;
  const found = textOf(element).length > 0;
  memo?.set(element, found);
  return found;
};

const textOf = (element: Element): string => rawTextOf(element).replace(/\s+/g, ' ').trim();

/** The `<figcaption>` of the nearest `<figure>` around the picture (a few levels up at most). */
const figcaptionOf = (image: Element): string => {
  let node: AnyNode | null = image.parent;
  for (let depth = 0; node && depth < 6; depth++, node = node.parent) {
    if (isTag(node) && node.name.toLowerCase() === 'figure') {
      const caption = node.children.find((child) => isTag(child) && child.name.toLowerCase() === 'figcaption');
      return caption && isTag(caption) ? textOf(caption) : '';
    }
  }
  return '';
};

const BLOCK_PARENTS = new Set(['p', 'div', 'span', 'a', 'center', 'picture']);

/**
 * A labelled line next to the picture ("Figure 3: …", Word's Caption
 * paragraph): the element after the picture's paragraph, else the one before.
 */
const labelOf = (image: Element, figures: HtmlFigures | undefined): string => {
  let holder: Element = image;
  for (let depth = 0; depth < 6 && holder.parent && isTag(holder.parent); depth++) {
    if (!BLOCK_PARENTS.has(holder.parent.name.toLowerCase()) || hasText(holder.parent, figures)) break;
    holder = holder.parent;
  }
  for (const step of [(node: AnyNode) => node.nextSibling, (node: AnyNode) => node.previousSibling]) {
    let node = step(holder);
    while (node && isText(node) && !node.data.trim()) node = step(node);
    if (node && isTag(node)) {
      const text = textOf(node);
      if (text && text.length <= 500 && isCaptionLine(text)) return text;
    }
  }
  return '';
};

/** No text beside the picture in the paragraph (or link, span…) that holds it. */
const standsAlone = (image: Element, figures: HtmlFigures | undefined): boolean => {
  let holder: Element = image;
  for (let depth = 0; depth < 6 && holder.parent && isTag(holder.parent); depth++) {
    if (!BLOCK_PARENTS.has(holder.parent.name.toLowerCase())) return true;
    if (hasText(holder.parent, figures)) return false;
    holder = holder.parent;
  }
  return true;
};

/** A `width`/`height` attribute in pixels, when it is one. */
const pixelsOf = (value: string | undefined): number | undefined =>
  value && /^\s*\d+(?:px)?\s*$/.test(value) ? Number.parseInt(value, 10) : undefined;

/** The figure an `<img>` is, once kept by the collector; undefined for a remote, missing or left-out picture. */
export const figureOfImage = (image: Element, figures: HtmlFigures | undefined): FigureRef | undefined => {
  if (!figures) return undefined;
  const src = (image.attribs.src ?? '').trim();
  if (!src) return undefined;
  // A flood of pictures: past a few times the figures a document keeps, each is counted, not examined.
  figures.seen ??= { hasText: new WeakMap(), images: 0 };
  if (++figures.seen.images > figures.collector.limits.maxFigures * IMAGES_LOOKED_AT) {
    figures.collector.countOverLimit();
    return undefined;
  }
  const bytes = figures.resolve(src);
  const remote = bytes ? undefined : linkedAddress(src, figures.base);
  if (!bytes && !remote) return undefined;
  const figcaption = figcaptionOf(image);
  const label = figcaption ? '' : labelOf(image, figures);
  const alt = (image.attribs.alt ?? '').replace(/\s+/g, ' ').trim();
  const title = (image.attribs.title ?? '').replace(/\s+/g, ' ').trim();
  const [caption, source]: [string, CaptionSource | undefined] = figcaption
    ? [figcaption, 'figcaption']
    : label
      ? [label, 'label']
      : alt
        ? [alt, 'alt_text']
        : title
          ? [title, 'title']
          : ['', undefined];
  const where = {
    ...(figures.section ? { section: figures.section } : {}),
    ...(caption ? { caption, captionSource: source } : {}),
  };
  const figure = bytes
    ? figures.collector.add({ bytes, ...where })
    : figures.collector.addReference({
        url: remote as string,
        width: pixelsOf(image.attribs.width),
        height: pixelsOf(image.attribs.height),
        ...where,
      });
  return figure
    ? {
        figure,
        caption: figure.caption ?? '',
        shown: source === 'figcaption' || source === 'label',
        alone: standsAlone(image, figures),
      }
    : undefined;
};
