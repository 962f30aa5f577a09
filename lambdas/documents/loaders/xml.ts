import type { Document, Element } from 'domhandler';
import { DomUtils } from 'htmlparser2';
import { decodeText } from '../encoding.js';
import type { ProcessingLimits } from '../limits.js';
import { parseHtml } from './html.js';
import type { ZipArchive } from './zip.js';

/**
 * The XML parts of office documents and e-books (OOXML, OpenDocument, EPUB),
 * parsed by htmlparser2 in XML mode under the HTML caps (tags, depth). It
 * reads no DTD and resolves no entity beyond XML's five and character
 * references: an external entity (XXE) or an entity expansion (a "billion
 * laughs") is text to it, never fetched nor expanded.
 */
export const parseXml = async (
  text: string,
  limits: Pick<ProcessingLimits, 'maxHtmlDepth' | 'maxHtmlTags'>,
  checkpoint: () => Promise<void>,
  kind: string,
): Promise<Document> => parseHtml(text, limits, checkpoint, { xmlMode: true, kind });

/** One part of a zip-based document, decoded (its XML declaration or BOM says how) and parsed. */
export const readXmlPart = async (
  archive: ZipArchive,
  name: string,
  limits: Pick<ProcessingLimits, 'maxHtmlDepth' | 'maxHtmlTags'>,
  checkpoint: () => Promise<void>,
  kind: string,
): Promise<Document> => {
  const bytes = await archive.read(name);
  return parseXml(decodeText(bytes, { html: true }).text, limits, checkpoint, kind);
};

/** The local part of a qualified name (`a:t` → `t`): prefixes vary between producers. */
export const localName = (element: Element): string => {
  const colon = element.name.indexOf(':');
  return colon === -1 ? element.name : element.name.slice(colon + 1);
};

/** Every descendant element with this local name, in document order. */
export const descendants = (root: Document | Element, name: string): Element[] =>
  DomUtils.findAll((element) => localName(element) === name, root.children);

/** The direct children with this local name. */
export const childrenNamed = (element: Document | Element, name: string): Element[] =>
  element.children.filter((child): child is Element => DomUtils.isTag(child) && localName(child) === name);

/** An attribute by its local name (`r:id` or `id`). */
export const attribute = (element: Element, name: string): string | undefined => {
  if (element.attribs[name] !== undefined) return element.attribs[name];
  const key = Object.keys(element.attribs).find((candidate) => candidate.split(':').pop() === name);
  return key === undefined ? undefined : element.attribs[key];
};
