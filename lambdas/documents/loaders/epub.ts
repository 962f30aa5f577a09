import type { Document as XmlDocument, Element } from 'domhandler';
import { DomUtils } from 'htmlparser2';
import type { Document } from '../document.js';
import { decodeText } from '../encoding.js';
import { AppError } from '../../errors.js';
import { htmlToText, parseHtml } from './html.js';
import { baseMetadata, normalizedText, type LoadInput, type Loader } from './types.js';
import { attribute, childrenNamed, descendants, localName, readXmlPart } from './xml.js';
import { ZipArchive } from './zip.js';
import type { FigureCollector } from '../figures/figures.js';

/**
 * EPUB (2 and 3): META-INF/container.xml names the package document (OPF);
 * its manifest lists the files and its spine the reading order. One document
 * per spine item that has text, in spine order, each XHTML file read by the
 * HTML reading (text or Markdown). Every part comes through the capped zip
 * reader, every XML part through the capped XML parser (no DTD, no external
 * entity); hrefs are resolved inside the archive or ignored.
 *
 * Spine items marked `linear="no"` (notes, answer keys, pop-ups a reader
 * shows outside the main flow) are read too, where the spine puts them: their
 * text is part of the book. The navigation document, when the spine lists it,
 * gives no document: its `<nav>` is boilerplate to the HTML reading.
 */

const KIND = 'EPUB';

/** Spine items that are text: XHTML, and HTML that some producers declare. */
const TEXT_TYPES = new Set(['application/xhtml+xml', 'text/html', 'application/html']);

/** Encryption that leaves the text readable: the IDPF and Adobe font obfuscations. */
const FONT_OBFUSCATION = new Set(['http://www.idpf.org/2008/embedding', 'http://ns.adobe.com/pdf/enc#RC']);

/** HTML's void elements: their `<br/>` is already complete in the HTML reading. */
const VOID_ELEMENTS = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'link',
  'meta',
  'param',
  'source',
  'track',
  'wbr',
]);

/**
 * A self-closed element (`<a id="p1"/>`, `<div/>`, `<title/>`). `[^<>]` keeps
 * each attempt within one tag, so the scan stays linear however the tags are
 * broken.
 */
const SELF_CLOSED = /<([A-Za-z][^\s/<>]*)([^<>]*?)\/>/g;

/**
 * XHTML for the HTML reading, which follows HTML's rules: there `<title/>` or
 * `<script/>` opens an element whose raw text runs to the end of the file
 * (the whole chapter lost), and `<a id="x"/>` wraps what follows in a link.
 * Written out as an open and a close tag, they mean what XML meant. (The HTML
 * parser rather than the XML one: chapters use HTML's named entities,
 * `&nbsp;` and `&eacute;`, which only the HTML reading decodes.)
 */
export const xhtmlForHtmlReading = (xhtml: string): string =>
  unwrapCdata(dropInternalSubset(xhtml)).replace(SELF_CLOSED, (tag, name: string, attributes: string) =>
    VOID_ELEMENTS.has(name.toLowerCase()) ? tag : `<${name}${attributes}></${name}>`,
  );

/**
 * A DOCTYPE's internal subset (`<!DOCTYPE html [ <!ENTITY …> ]>`): HTML ends
 * the declaration at its first `>`, leaving `]>` as text. Dropped (its
 * entities were never to be expanded anyway). One scan with indexOf.
 */
const dropInternalSubset = (xhtml: string): string => {
  const start = xhtml.search(/<!DOCTYPE/i);
  if (start === -1) return xhtml;
  const open = xhtml.indexOf('[', start);
  const close = xhtml.indexOf('>', start);
  if (open === -1 || close === -1 || open > close) return xhtml;
  const end = xhtml.indexOf(']', open);
  const after = end === -1 ? -1 : xhtml.indexOf('>', end);
  return after === -1 ? xhtml : `${xhtml.slice(0, open)}>${xhtml.slice(after + 1)}`;
};

const escapeText = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** CDATA sections are text in XML; HTML reads them as comments. Unwrapped as escaped text, one forward scan. */
const unwrapCdata = (xhtml: string): string => {
  const parts: string[] = [];
  let at = 0;
  for (let start = xhtml.indexOf('<![CDATA[', at); start !== -1; start = xhtml.indexOf('<![CDATA[', at)) {
    const end = xhtml.indexOf(']]>', start + 9);
    if (end === -1) break;
    parts.push(xhtml.slice(at, start), escapeText(xhtml.slice(start + 9, end)));
    at = end + 3;
  }
  parts.push(xhtml.slice(at));
  return parts.join('');
};

const collapse = (text: string): string => text.replace(/\s+/g, ' ').trim();

const textOf = (element: Element): string => collapse(DomUtils.textContent(element));

const folderOf = (path: string): string => path.slice(0, path.lastIndexOf('/') + 1);

/**
 * An href as an archive path, resolved against the folder of the part that
 * holds it: fragment dropped, `.` and `..` applied, a leading `/` taken from
 * the archive's root. Undefined for a URL (any scheme) and for a path that
 * climbs above the root: nothing outside the archive is ever named.
 */
export const resolveHref = (from: string, href: string, decode = true): string | undefined => {
  const bare = href.split('#')[0]?.trim() ?? '';
  if (!bare || /^[a-z][a-z0-9+.-]*:/i.test(bare)) return undefined;
  let path = bare;
  if (decode) {
    try {
      path = decodeURIComponent(bare);
    } catch {
      // A stray `%` is a character of the name.
    }
  }
  const segments = path.startsWith('/') ? [] : folderOf(from).split('/').filter(Boolean);
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return undefined;
      segments.pop();
    } else {
      segments.push(segment);
    }
  }
  return segments.length ? segments.join('/') : undefined;
};

/** The archive part an href names: percent-decoded as URLs are, else as written (some zips store `%20` in names). */
const partFor = (archive: ZipArchive, from: string, href: string): string | undefined => {
  const decoded = resolveHref(from, href);
  if (decoded && archive.has(decoded)) return decoded;
  const raw = resolveHref(from, href, false);
  return raw && archive.has(raw) ? raw : undefined;
};

interface ManifestItem {
  path: string | undefined;
  mediaType: string;
  properties: string[];
}

type Limits = LoadInput['limits'];

const readXml = (archive: ZipArchive, name: string, input: LoadInput): Promise<XmlDocument> =>
  readXmlPart(archive, name, input.limits, input.checkpoint, KIND);

/** The package document: container.xml's first OPF rootfile; without one (a damaged book), the first .opf file. */
const packagePath = async (archive: ZipArchive, input: LoadInput): Promise<string> => {
  if (archive.has('META-INF/container.xml')) {
    const container = await readXml(archive, 'META-INF/container.xml', input);
    const rootfiles = descendants(container, 'rootfile');
    const rootfile =
      rootfiles.find((element) => attribute(element, 'media-type') === 'application/oebps-package+xml') ?? rootfiles[0];
    const fullPath = rootfile && attribute(rootfile, 'full-path');
    const path = fullPath === undefined ? undefined : partFor(archive, '', fullPath);
    if (path) return path;
  }
  const fallback = archive.names.find((name) => name.toLowerCase().endsWith('.opf'));
  if (!fallback) throw new AppError('DOCUMENT_PARSE_ERROR', 'The EPUB file has no package document (OPF).');
  return fallback;
};

/** The table of contents' label for each file it points into (its first entry for that file). */
type Titles = Map<string, string>;

const addTitle = (titles: Titles, archive: ZipArchive, from: string, href: string | undefined, label: string) => {
  const path = href === undefined ? undefined : partFor(archive, from, href);
  if (path && label && !titles.has(path)) titles.set(path, label);
};

/** EPUB 3: the navigation document's `toc` nav (else its first nav), each link's text. */
const navTitles = async (archive: ZipArchive, path: string, input: LoadInput, titles: Titles) => {
  const nav = await readXml(archive, path, input);
  const navs = descendants(nav, 'nav');
  const toc = navs.find((element) => (attribute(element, 'type') ?? '').split(/\s+/).includes('toc')) ?? navs[0];
  if (!toc) return;
  for (const link of descendants(toc, 'a')) addTitle(titles, archive, path, attribute(link, 'href'), textOf(link));
};

/** EPUB 2: the NCX's navPoints, outer before inner, each its label and target. */
const ncxTitles = async (archive: ZipArchive, path: string, input: LoadInput, titles: Titles) => {
  const ncx = await readXml(archive, path, input);
  for (const point of descendants(ncx, 'navPoint')) {
    const label = childrenNamed(point, 'navLabel')[0];
    const text = label && descendants(label, 'text')[0];
    const content = childrenNamed(point, 'content')[0];
    addTitle(titles, archive, path, content && attribute(content, 'src'), text ? textOf(text) : '');
  }
};

/** Files encrypted with anything but font obfuscation (DRM): their bytes are not text. */
const encryptedParts = async (archive: ZipArchive, input: LoadInput): Promise<Set<string>> => {
  const encrypted = new Set<string>();
  if (!archive.has('META-INF/encryption.xml')) return encrypted;
  const root = await readXml(archive, 'META-INF/encryption.xml', input);
  for (const data of descendants(root, 'EncryptedData')) {
    const method = descendants(data, 'EncryptionMethod')[0];
    if (FONT_OBFUSCATION.has((method && attribute(method, 'Algorithm')) ?? '')) continue;
    for (const reference of descendants(data, 'CipherReference')) {
      const uri = attribute(reference, 'URI');
      const path = uri === undefined ? undefined : resolveHref('', uri);
      if (path) encrypted.add(path);
    }
  }
  return encrypted;
};

/** The first heading's text, for a chapter the table of contents does not name. */
const firstHeading = async (xhtml: string, limits: Limits, checkpoint: () => Promise<void>): Promise<string> => {
  const root = await parseHtml(xhtml, limits, checkpoint);
  const heading = DomUtils.findOne((element) => /^h[1-6]$/i.test(localName(element)), root.children);
  return heading ? textOf(heading) : '';
};

/**
 * The pictures a chapter shows (`<img src>`, SVG `<image href>`) that the
 * archive holds, read before the chapter's walk, by the `src` as written.
 * No more bytes are read than the figures may still hold.
 */
const picturesOf = async (
  archive: ZipArchive,
  chapter: string,
  xhtml: string,
  collector: FigureCollector,
): Promise<Map<string, Uint8Array>> => {
  const pictures = new Map<string, Uint8Array>();
  const folder = chapter.includes('/') ? chapter.slice(0, chapter.lastIndexOf('/') + 1) : '';
  let budget = collector.limits.maxFigureTotalBytes;
  for (const match of xhtml.matchAll(/<img\b[^>]*?\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)) {
    const src = (match[1] ?? match[2] ?? '').trim();
    if (!src || pictures.has(src) || /^[a-z][a-z0-9+.-]*:/i.test(src)) continue;
    let path: string;
    try {
      path = new URL(src, `zip://book/${folder}`).pathname.replace(/^\//, '');
      path = decodeURIComponent(path);
    } catch {
      continue;
    }
    if (!archive.has(path)) continue;
    const bytes = await archive.read(path);
    budget -= bytes.length;
    if (budget < 0) break;
    pictures.set(src, bytes);
  }
  return pictures;
};

export const loadEpub: Loader = async (input) => {
  const archive = await ZipArchive.ofDocument(input, KIND);
  try {
    await input.checkpoint();
    const opfPath = await packagePath(archive, input);
    const opf = await readXml(archive, opfPath, input);

    const manifest = new Map<string, ManifestItem>();
    for (const item of descendants(opf, 'item')) {
      const id = attribute(item, 'id');
      const href = attribute(item, 'href');
      if (id === undefined || href === undefined || manifest.has(id)) continue;
      manifest.set(id, {
        path: partFor(archive, opfPath, href),
        mediaType: (attribute(item, 'media-type') ?? '').trim().toLowerCase(),
        properties: (attribute(item, 'properties') ?? '').split(/\s+/),
      });
    }
    const spine = descendants(opf, 'spine')[0];
    const itemrefs = spine ? childrenNamed(spine, 'itemref') : [];
    const metadata = descendants(opf, 'metadata')[0];
    const titleElement = metadata && descendants(metadata, 'title')[0];
    const bookTitle = titleElement ? textOf(titleElement) : '';

    // The EPUB 3 navigation document first; the NCX (EPUB 2, and kept by EPUB 3 books for old readers) fills gaps.
    const titles: Titles = new Map();
    const navPath = [...manifest.values()].find((item) => item.properties.includes('nav'))?.path;
    if (navPath) await navTitles(archive, navPath, input, titles);
    const ncxId = spine && attribute(spine, 'toc');
    const ncxPath = (
      (ncxId === undefined ? undefined : manifest.get(ncxId)) ??
      [...manifest.values()].find((item) => item.mediaType === 'application/x-dtbncx+xml')
    )?.path;
    if (ncxPath) await ncxTitles(archive, ncxPath, input, titles);

    const encrypted = await encryptedParts(archive, input);
    const documents: Document[] = [];
    // A file is read once, however often the spine lists it: repeats would multiply the output.
    const seen = new Set<string>();
    for (const [index, itemref] of itemrefs.entries()) {
      await input.checkpoint();
      const idref = attribute(itemref, 'idref');
      const item = idref === undefined ? undefined : manifest.get(idref);
      const path = item?.path;
      if (!item || !path || seen.has(path) || !TEXT_TYPES.has(item.mediaType)) continue;
      seen.add(path);
      if (encrypted.has(path)) {
        throw new AppError(
          'UNSUPPORTED_DOCUMENT_TYPE',
          'The EPUB is DRM-protected (its chapters are encrypted); remove the protection or upload an unprotected copy.',
        );
      }
      const xhtml = xhtmlForHtmlReading(decodeText(await archive.read(path), { html: true }).text);
      const mark = input.figures?.mark() ?? 0;
      const pictures = input.figures ? await picturesOf(archive, path, xhtml, input.figures) : undefined;
      const figures =
        input.figures && pictures
          ? { collector: input.figures, resolve: (src: string) => pictures.get(src) }
          : undefined;
      const { title: htmlTitle, text } = await htmlToText(
        xhtml,
        input.limits,
        input.checkpoint,
        input.outputFormat,
        figures,
      );
      const placed = input.figures?.placedSince(mark) ?? [];
      const content = normalizedText(text);
      input.onProgress?.((index + 1) / itemrefs.length);
      // A cover or an image page: no text, no document.
      if (!content) continue;
      const title =
        titles.get(path) || (await firstHeading(xhtml, input.limits, input.checkpoint)) || htmlTitle || bookTitle;
      documents.push({
        page_content: content,
        metadata: {
          ...baseMetadata(input),
          chapter: documents.length + 1,
          title,
          ...(bookTitle ? { book_title: bookTitle } : {}),
          ...(placed.length ? { figures: placed } : {}),
        },
      });
    }
    input.onProgress?.(1);
    return { documents };
  } catch (error) {
    // A cancellation's reason passes through as it is.
    if (error instanceof AppError || input.signal?.aborted) throw error;
    throw new AppError('DOCUMENT_PARSE_ERROR', 'The EPUB file could not be read; it may be damaged.', { cause: error });
  } finally {
    archive.close();
  }
};
