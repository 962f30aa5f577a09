import { isTag, type Element } from 'domhandler';
import type { Document } from '../document.js';
import { AppError } from '../../errors.js';
import { OutputBudget } from '../limits.js';
import {
  blocksToMarkdown,
  blocksToText,
  inlineText,
  nestItems,
  oneLine,
  readerErrors,
  textOf,
  type Block,
  type Inline,
} from './office-blocks.js';
import { baseMetadata, normalizedText, notReadWarnings, type LoadInput, type Loader, type NotRead } from './types.js';
import { chartBlocks, readChart } from './chart.js';
import { kindOf, relationshipsOf, targetsOf, type Relationship } from './ooxml.js';
import { layOutTable, MAX_COL_SPAN, MAX_ROW_SPAN, spanCount, type SpannedCell } from './table-grid.js';
import { attribute, childrenNamed, descendants, localName, readXmlPart } from './xml.js';
import { ZipArchive } from './zip.js';

/**
 * PPTX: one document per slide, in presentation order, read from the slide
 * XML directly (through the capped zip reader and XML parser). Each
 * document's content is the slide's title, then the text of its shapes in
 * the order the slide lists them (groups opened, tables one row per line),
 * then its speaker notes after a `Notes:` line (`## Notes` in Markdown).
 * Slides with no text give no document; `slide` keeps the slide's position,
 * so a gap in the numbers is a slide without text.
 */

/**
 * The slide parts in presentation order (`p:sldIdLst`), whatever their file
 * names, each once: a second entry for a part already listed is skipped (as
 * EPUB skips a spine item listed twice), or a few KB of list could read one
 * slide 50,000 times.
 */
const slidePartsOf = async (archive: ZipArchive, input: LoadInput): Promise<string[]> => {
  const presentation = await readXmlPart(archive, 'ppt/presentation.xml', input.limits, input.checkpoint, 'PPTX');
  const relationships = await relationshipsOf(archive, 'ppt/presentation.xml', input, 'PPTX');
  const list = descendants(presentation, 'sldIdLst')[0];
  if (!list) return [];
  const parts = childrenNamed(list, 'sldId').map((slide) => {
    const relationship = relationships.get(attributeOfNamespace(slide, 'id') ?? '');
    if (!relationship || relationship.external) {
      throw new AppError('DOCUMENT_PARSE_ERROR', 'The PPTX file is damaged (a slide it lists has no part).');
    }
    return relationship.target;
  });
  return [...new Set(parts)];
};

/** `r:id` (the relationship), not the plain `id` (the slide's number) that `p:sldId` also carries. */
const attributeOfNamespace = (element: Element, name: string): string | undefined => {
  const key = Object.keys(element.attribs).find(
    (candidate) => candidate.includes(':') && candidate.endsWith(`:${name}`),
  );
  return key === undefined ? undefined : element.attribs[key];
};

/** Markup compatibility: a consumer that knows none of the choices' extensions reads the fallback. */
const alternativeContent = (element: Element): Element[] => {
  const fallback = childrenNamed(element, 'Fallback')[0];
  return fallback ? childElements(fallback) : childElements(childrenNamed(element, 'Choice')[0]);
};

const childElements = (element: Element | undefined): Element[] =>
  element ? element.children.filter((child): child is Element => isTag(child)) : [];

/** A paragraph's runs (`a:r`, fields), line breaks and links, in order. */
const paragraphInlines = (paragraph: Element, relationships: Map<string, Relationship>): Inline[] => {
  const inlines: Inline[] = [];
  const pending = childElements(paragraph).reverse();
  for (let child = pending.pop(); child; child = pending.pop()) {
    switch (localName(child)) {
      case 'r':
      case 'fld': {
        const text = childrenNamed(child, 't').map(textOf).join('');
        if (!text) break;
        const linkId = childrenNamed(child, 'rPr').flatMap((properties) => childrenNamed(properties, 'hlinkClick'))[0];
        const link = linkId && relationships.get(attributeOfNamespace(linkId, 'id') ?? '');
        const last = inlines[inlines.length - 1];
        // PowerPoint splits a link's text into runs wherever its formatting changes: one link again.
        if (link && link.external && typeof last === 'object' && last.href === link.target) last.text += text;
        else inlines.push(link && link.external ? { text, href: link.target } : text);
        break;
      }
      case 'br':
        inlines.push('\n');
        break;
      case 'AlternateContent':
        pending.push(...alternativeContent(child).reverse());
        break;
    }
  }
  return inlines;
};

/** Placeholder type of a shape (`title`, `body`…), `undefined` for a shape that is no placeholder. */
const placeholderOf = (shape: Element): string | undefined => {
  const properties = childElements(shape).find((child) => localName(child).startsWith('nv'));
  const nvPr = properties && childrenNamed(properties, 'nvPr')[0];
  const placeholder = nvPr && childrenNamed(nvPr, 'ph')[0];
  if (!placeholder) return undefined;
  return attribute(placeholder, 'type') ?? 'body';
};

const TITLES = new Set(['title', 'ctrTitle']);
/** Placeholders whose paragraphs are bullets unless they say otherwise (the master's body style). */
const BULLETED_PLACEHOLDERS = new Set(['body', 'obj']);
/** Placeholders that repeat the master (slide number, date, footer), not the slide's own text. */
const FURNITURE = new Set(['sldNum', 'dt', 'ftr', 'hdr', 'sldImg']);

/** A text body's paragraphs: plain paragraphs, and bullets or numbers as nested lists. */
const textBodyBlocks = (body: Element, bulleted: boolean, relationships: Map<string, Relationship>): Block[] => {
  const blocks: Block[] = [];
  let items: Array<{ level: number; ordered: boolean; block: Block }> = [];
  const settle = () => {
    blocks.push(...nestItems(items));
    items = [];
  };
  for (const paragraph of childrenNamed(body, 'p')) {
    const inlines = paragraphInlines(paragraph, relationships);
    if (!inlineText(inlines).trim()) continue;
    const properties = childrenNamed(paragraph, 'pPr')[0];
    const marks = properties ? childElements(properties).map(localName) : [];
    const numbered = marks.includes('buAutoNum');
    const bullet =
      !marks.includes('buNone') && (bulleted || numbered || marks.includes('buChar') || marks.includes('buBlip'));
    if (bullet) {
      const level = Math.min(
        Math.max(Number.parseInt((properties && attribute(properties, 'lvl')) ?? '0', 10) || 0, 0),
        8,
      );
      items.push({ level, ordered: numbered, block: { type: 'paragraph', inlines } });
    } else {
      settle();
      blocks.push({ type: 'paragraph', inlines });
    }
  }
  settle();
  return blocks;
};

/**
 * A DrawingML table: one row of cells per `a:tr`, laid out on the table's
 * grid (table-grid.ts): a spanning cell (`gridSpan`, `rowSpan`) fills the
 * positions it covers, where the merged-over cells (`hMerge`, `vMerge`) stand.
 */
const tableBlock = (table: Element, relationships: Map<string, Relationship>): Block => ({
  type: 'table',
  rows: layOutTable(
    childrenNamed(table, 'tr').map((row) =>
      childrenNamed(row, 'tc').flatMap((cell): SpannedCell[] => {
        if (attribute(cell, 'hMerge') === '1' || attribute(cell, 'vMerge') === '1') return [];
        const body = childrenNamed(cell, 'txBody')[0];
        return [
          {
            text: body ? oneLine(textBodyBlocks(body, false, relationships)) : '',
            colSpan: spanCount(attribute(cell, 'gridSpan'), MAX_COL_SPAN),
            rowSpan: spanCount(attribute(cell, 'rowSpan'), MAX_ROW_SPAN),
          },
        ];
      }),
    ),
  ),
});

/** A picture on a slide, by its relationship until its part is read (option `figures`). */
interface SlidePicture {
  picture: string;
  alt: string;
  /** `[x, y, width, height]` in points of the slide, for a picture outside any group. */
  box?: [number, number, number, number] | undefined;
}

interface SlideText {
  title: string;
  /** Each shape's blocks, in the order the slide lists the shapes; a chart or a picture by its relationship until it is read. */
  shapes: Array<Block[] | { chart: string } | SlidePicture>;
  /** Pictures, embedded objects and diagrams on the slide, which carry no text here. */
  notRead: Required<NotRead>;
}

/**
 * The shape tree in order: shapes, tables in graphic frames, groups opened
 * where they stand (an explicit stack: groups may nest as deep as the XML
 * caps allow). Charts are read from their parts afterwards (see
 * `withCharts`); pictures, connectors and SmartArt carry no text here.
 */
const readShapes = (tree: Element, relationships: Map<string, Relationship>, withPictures: boolean): SlideText => {
  const titles: string[] = [];
  const shapes: SlideText['shapes'] = [];
  const notRead = { pictures: 0, objects: 0, diagrams: 0 };
  const pending = childElements(tree).reverse();
  const grouped = new Set<Element>();
  for (let shape = pending.pop(); shape; shape = pending.pop()) {
    switch (localName(shape)) {
      case 'grpSp': {
        const members = childElements(shape);
        for (const member of members) grouped.add(member);
        pending.push(...members.reverse());
        break;
      }
      case 'AlternateContent':
        pending.push(...alternativeContent(shape).reverse());
        break;
      case 'sp': {
        const placeholder = placeholderOf(shape);
        const body = childrenNamed(shape, 'txBody')[0];
        if (!body || (placeholder && FURNITURE.has(placeholder))) break;
        if (placeholder && TITLES.has(placeholder)) {
          const title = oneLine(textBodyBlocks(body, false, relationships));
          if (title) titles.push(title);
          break;
        }
        const blocks = textBodyBlocks(
          body,
          placeholder !== undefined && BULLETED_PLACEHOLDERS.has(placeholder),
          relationships,
        );
        if (blocks.length) shapes.push(blocks);
        break;
      }
      case 'pic': {
        const blip = descendants(shape, 'blip')[0];
        const id = blip && attributeOfNamespace(blip, 'embed');
        if (!withPictures || !id) {
          notRead.pictures++;
          break;
        }
        const properties = descendants(shape, 'cNvPr')[0];
        const alt = (properties && (attribute(properties, 'descr') || attribute(properties, 'title'))) ?? '';
        shapes.push({
          picture: id,
          alt: alt.replace(/\s+/g, ' ').trim(),
          box: grouped.has(shape) ? undefined : boxOf(shape),
        });
        break;
      }
      case 'graphicFrame':
        if (descendants(shape, 'oleObj').length) notRead.objects++;
        if (descendants(shape, 'relIds').length) notRead.diagrams++;
        for (const table of descendants(shape, 'tbl')) shapes.push([tableBlock(table, relationships)]);
        for (const chart of descendants(shape, 'chart')) {
          const id = attributeOfNamespace(chart, 'id');
          if (id) shapes.push({ chart: id });
        }
        break;
    }
  }
  return { title: titles.join(' '), shapes, notRead };
};

const EMU_PER_POINT = 12_700;

/** A shape's place on the slide (`a:xfrm`), in points. */
const boxOf = (shape: Element): SlidePicture['box'] => {
  const transform = descendants(shape, 'xfrm')[0];
  const offset = transform && childrenNamed(transform, 'off')[0];
  const extent = transform && childrenNamed(transform, 'ext')[0];
  if (!offset || !extent) return undefined;
  const values = [attribute(offset, 'x'), attribute(offset, 'y'), attribute(extent, 'cx'), attribute(extent, 'cy')].map(
    (value) => Number(value) / EMU_PER_POINT,
  );
  return values.every(Number.isFinite) ? (values as [number, number, number, number]) : undefined;
};

/** The speaker notes: the notes page's body placeholder (not its slide image, number or header). */
const notesOf = async (
  archive: ZipArchive,
  relationships: Map<string, Relationship>,
  input: LoadInput,
): Promise<Block[]> => {
  const notes = [...relationships.values()].find(
    (relationship) => !relationship.external && kindOf(relationship) === 'notesSlide',
  );
  if (!notes || !archive.has(notes.target)) return [];
  const root = await readXmlPart(archive, notes.target, input.limits, input.checkpoint, 'PPTX');
  const noteRelationships = await relationshipsOf(archive, notes.target, input, 'PPTX');
  const blocks: Block[] = [];
  for (const shape of descendants(root, 'sp')) {
    if (placeholderOf(shape) !== 'body') continue;
    const body = childrenNamed(shape, 'txBody')[0];
    if (body) blocks.push(...textBodyBlocks(body, false, noteRelationships));
  }
  return blocks;
};

/** Each chart of the slide read from its part, where it stands: its kind and title, then its series as a table. */
const withCharts = async (
  slide: SlideText,
  relationships: Map<string, Relationship>,
  archive: ZipArchive,
  input: LoadInput & { slide?: number },
): Promise<Block[][]> => {
  const shapes: Block[][] = [];
  for (const shape of slide.shapes) {
    if (Array.isArray(shape)) {
      shapes.push(shape);
      continue;
    }
    if ('picture' in shape) {
      const figure = await slideFigure(shape, slide.title, relationships, archive, input);
      if (figure) shapes.push([figure]);
      continue;
    }
    const relationship = relationships.get(shape.chart);
    if (!relationship || relationship.external || !archive.has(relationship.target)) continue;
    const chart = await readChart(archive, relationship.target, input, 'PPTX');
    if (chart) shapes.push(chartBlocks(chart));
  }
  return shapes;
};

/**
 * A slide's picture as a figure: its part's bytes, its alt text as the
 * caption (else the slide's title), its box on the slide. A picture whose
 * part is missing or external is counted as one not stored.
 */
const slideFigure = async (
  shape: SlidePicture,
  title: string,
  relationships: Map<string, Relationship>,
  archive: ZipArchive,
  input: LoadInput & { slide?: number },
): Promise<Block | undefined> => {
  const collector = input.figures;
  if (!collector) return undefined;
  const relationship = relationships.get(shape.picture);
  if (!relationship || relationship.external || !archive.has(relationship.target)) {
    collector.countUnsupported();
    return undefined;
  }
  const [x = 0, y = 0, width = 0, height = 0] = shape.box ?? [];
  const figure = collector.add({
    key: relationship.target,
    // Read only the first time the part is used: the collector knows it after.
    bytes: await archive.read(relationship.target),
    ...(input.slide !== undefined ? { page: input.slide } : {}),
    ...(shape.box ? { bbox: { x0: x, y0: y, x1: x + width, y1: y + height } } : {}),
    ...(shape.alt
      ? { caption: shape.alt, captionSource: 'alt_text' as const }
      : title
        ? { caption: title, captionSource: 'title' as const }
        : {}),
  });
  if (!figure) return undefined;
  return { type: 'figure', id: figure.id, caption: figure.caption ?? '', captionShown: !shape.alt };
};

/** A comment's author and text; a reply in a thread says so. */
interface SlideComment {
  author: string;
  text: string;
  reply: boolean;
}

/**
 * Who wrote comments: the classic list (`commentAuthors`, by number) and the
 * modern one (`authors`, PowerPoint 365, by id).
 */
const readCommentAuthors = async (archive: ZipArchive, input: LoadInput): Promise<Map<string, string>> => {
  const authors = new Map<string, string>();
  const relationships = await relationshipsOf(archive, 'ppt/presentation.xml', input, 'PPTX');
  for (const kind of ['commentAuthors', 'authors']) {
    for (const target of targetsOf(relationships, kind, archive)) {
      const root = await readXmlPart(archive, target, input.limits, input.checkpoint, 'PPTX');
      for (const author of [...descendants(root, 'cmAuthor'), ...descendants(root, 'author')]) {
        const id = attribute(author, 'id');
        if (id !== undefined) authors.set(id, attribute(author, 'name') ?? '');
      }
    }
  }
  return authors;
};

const COMMENT_TEXT_LIMIT = 32_768;

/** A comment's text: `p:text` (classic) or a text body's runs (modern). */
const commentTextOf = (comment: Element): string => {
  const classic = childrenNamed(comment, 'text')[0];
  const body = classic ?? childrenNamed(comment, 'txBody')[0];
  const text = body ? (classic ? textOf(classic) : descendants(body, 't').map(textOf).join(' ')) : '';
  return text.replace(/\s+/g, ' ').trim().slice(0, COMMENT_TEXT_LIMIT);
};

/** The slide's comments in the order they are stored, replies after the comment they answer. */
const commentsOf = async (
  archive: ZipArchive,
  relationships: Map<string, Relationship>,
  authors: ReadonlyMap<string, string>,
  input: LoadInput,
): Promise<SlideComment[]> => {
  const comments: SlideComment[] = [];
  for (const target of targetsOf(relationships, 'comments', archive)) {
    const root = await readXmlPart(archive, target, input.limits, input.checkpoint, 'PPTX');
    for (const comment of descendants(root, 'cm')) {
      const of = (element: Element, reply: boolean) => {
        const text = commentTextOf(element);
        if (text) comments.push({ author: authors.get(attribute(element, 'authorId') ?? '') ?? '', text, reply });
      };
      of(comment, descendants(comment, 'parentCm').length > 0);
      for (const reply of descendants(comment, 'reply')) of(reply, true);
    }
  }
  return comments;
};

/** "Comment (Jane Smith): Looks good" */
const commentLine = (comment: SlideComment): string =>
  `${comment.reply ? 'Reply' : 'Comment'}${comment.author ? ` (${comment.author})` : ''}: ${comment.text}`;

const render = (
  slide: { title: string; shapes: Block[][] },
  notes: Block[],
  comments: SlideComment[],
  input: LoadInput,
): string => {
  const commentBlocks = comments.map((comment): Block => ({ type: 'paragraph', inlines: [commentLine(comment)] }));
  if (input.outputFormat === 'markdown') {
    const blocks: Block[] = [];
    if (slide.title) blocks.push({ type: 'heading', level: 1, inlines: [slide.title] });
    blocks.push(...slide.shapes.flat(), ...commentBlocks);
    if (notes.length) blocks.push({ type: 'heading', level: 2, inlines: ['Notes'] }, ...notes);
    return blocksToMarkdown(blocks);
  }
  // Paragraphs of one shape are lines; shapes, comments, title and notes are separated by a blank line.
  const sections = [
    slide.title,
    ...slide.shapes.map((blocks) => blocksToText(blocks, '\n')),
    blocksToText(commentBlocks, '\n'),
  ];
  const notesText = blocksToText(notes, '\n');
  if (notesText) sections.push(`Notes:\n${notesText}`);
  return sections.filter(Boolean).join('\n\n');
};

export const loadPptx: Loader = async (given) => {
  const { checkpoint, typed } = readerErrors(given, 'PPTX');
  const input: LoadInput = { ...given, checkpoint };
  const archive = await ZipArchive.ofDocument(input, 'PPTX');
  const documents: Document[] = [];
  const notReadTotal = { pictures: 0, objects: 0, diagrams: 0 };
  try {
    await input.checkpoint();
    const slides = await slidePartsOf(archive, input);
    // Slides may share a notes part: the text of all of them is counted against one budget.
    const output = new OutputBudget(input.limits, 'PPTX');
    let authors: Map<string, string> | undefined;
    for (const [index, part] of slides.entries()) {
      await input.checkpoint();
      const root = await readXmlPart(archive, part, input.limits, input.checkpoint, 'PPTX');
      const relationships = await relationshipsOf(archive, part, input, 'PPTX');
      const tree = descendants(root, 'spTree')[0];
      const slide = tree
        ? readShapes(tree, relationships, input.figures !== undefined)
        : { title: '', shapes: [], notRead: { pictures: 0, objects: 0, diagrams: 0 } };
      notReadTotal.pictures += slide.notRead.pictures;
      notReadTotal.objects += slide.notRead.objects;
      notReadTotal.diagrams += slide.notRead.diagrams;
      const shapes = await withCharts(slide, relationships, archive, { ...input, slide: index + 1 });
      const notes = await notesOf(archive, relationships, input);
      const comments = await commentsOf(
        archive,
        relationships,
        (authors ??= await readCommentAuthors(archive, input)),
        input,
      );
      const content = normalizedText(render({ title: slide.title, shapes }, notes, comments, input));
      output.take(content.length);
      if (content) {
        documents.push({
          page_content: content,
          metadata: { ...baseMetadata(input), slide: index + 1, total_slides: slides.length },
        });
      }
      input.onProgress?.((index + 1) / slides.length);
    }
  } catch (error) {
    throw typed(error);
  } finally {
    archive.close();
  }
  input.onProgress?.(1);
  const warnings = notReadWarnings(notReadTotal, 'presentation');
  return { documents, ...(warnings.length ? { warnings } : {}) };
};
