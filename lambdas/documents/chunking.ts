import type { Figure } from './figures/figures.js';
import { figureIdsIn } from './figures/captions.js';
import { createHash } from 'node:crypto';
import type { Document, PageBox } from './document.js';
import type { ProcessingLimits } from './limits.js';
import { usesStructure, type ProcessingOptions } from './options.js';
import { DEFAULT_SEPARATORS, MARKDOWN_SEPARATORS, RecursiveCharacterSplitter, type Chunk } from './splitter.js';
import { tokenCounter } from './tokenizer.js';

/**
 * Documents into chunks. Without any structure option the chunks are the
 * first version's, metadata and all (`chunk_index`, `start_index`). With one,
 * every chunk also carries `end_index`, its `headings` path and a stable
 * `chunk_id` (docs/results.md, "Chunking").
 */
export interface ChunkingContext {
  limits: ProcessingLimits;
  checkpoint: () => Promise<void>;
  /** SHA-256 of the source bytes, for `chunk_id`. */
  sourceDigest: () => string;
  /** The result's figures (option `figures`): their captions tell which text chunk refers to which. */
  figures?: readonly Figure[] | undefined;
}

/** An ATX heading line of Markdown: where it starts and ends (its newline included), level and text. */
export interface HeadingLine {
  start: number;
  end: number;
  level: number;
  text: string;
}

const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(```|~~~)/;

/** Heading lines outside fenced code, in order; linear in the text. */
export const headingLines = (text: string): HeadingLine[] => {
  const headings: HeadingLine[] = [];
  let fence: string | undefined;
  for (let start = 0; start < text.length;) {
    const newline = text.indexOf('\n', start);
    const lineEnd = newline === -1 ? text.length : newline;
    const line = text.slice(start, lineEnd);
    const fenceMatch = FENCE.exec(line);
    if (fenceMatch) {
      const marker = fenceMatch[1] as string;
      if (fence === undefined) fence = marker;
      else if (marker === fence) fence = undefined;
    } else if (fence === undefined && line.length <= 1000) {
      const match = ATX_HEADING.exec(line);
      if (match) {
        const end = newline === -1 ? text.length : newline + 1;
        headings.push({ start, end, level: (match[1] as string).length, text: (match[2] ?? '').trim() });
      }
    }
    start = lineEnd + 1;
  }
  return headings;
};

/** The heading path in effect: a heading replaces every open heading of its level or deeper. */
class HeadingTrail {
  private readonly open: { level: number; text: string }[] = [];

  enter(heading: HeadingLine): void {
    while ((this.open.at(-1)?.level ?? 0) >= heading.level) this.open.pop();
    this.open.push({ level: heading.level, text: heading.text });
  }

  /** As metadata stores it (a JSON array of strings). */
  path(): string[] {
    return this.open.map((heading) => heading.text);
  }
}

/** The options that make a chunk what it is, in a fixed order (a task row may hold its keys in any). */
const optionsKey = (options: ProcessingOptions): string =>
  JSON.stringify([
    options.chunk_size,
    options.chunk_overlap,
    options.output_format ?? 'text',
    options.chunk_strategy ?? 'recursive',
    options.chunk_size_unit ?? 'chars',
    options.tokenizer ?? null,
    options.pages ?? null,
  ]);

const chunkIdOf = (digest: string, options: string, parent: number, start: number, end: number): string =>
  createHash('sha256').update(`${digest}\n${options}\n${parent}:${start}:${end}`).digest('hex').slice(0, 32);

interface Section {
  start: number;
  end: number;
  headings: string[];
}

/**
 * by_heading: the text between heading lines, each with its heading path;
 * heading lines themselves are not in any chunk (they are in `headings`).
 */
const sectionsOf = (text: string, headings: HeadingLine[], trail: HeadingTrail): Section[] => {
  const sections: Section[] = [];
  let start = 0;
  for (const heading of headings) {
    sections.push({ start, end: heading.start, headings: trail.path() });
    trail.enter(heading);
    start = heading.end;
  }
  sections.push({ start, end: text.length, headings: trail.path() });
  return sections;
};

/** Other strategies: each chunk's path is the one in effect where it starts. */
const pathsAtChunks = (chunks: Chunk[], headings: HeadingLine[], trail: HeadingTrail): string[][] => {
  let next = 0;
  return chunks.map((chunk) => {
    while (next < headings.length && (headings[next] as HeadingLine).start <= chunk.start) {
      trail.enter(headings[next] as HeadingLine);
      next++;
    }
    return trail.path();
  });
};

/** The parent's boxes (`include_boxes`) that a chunk's characters fall in, their ranges in the chunk's text. */
const boxesOfChunk = (parent: Document, start: number, length: number): { boxes?: PageBox[] } => {
  const boxes = parent.metadata.boxes;
  if (!Array.isArray(boxes)) return {};
  const end = start + length;
  return {
    boxes: (boxes as PageBox[]).flatMap((box) => {
      const from = Math.max(box.start ?? 0, start);
      const to = Math.min(box.end ?? end, end);
      return to > from ? [{ ...box, start: from - start, end: to - start }] : [];
    }),
  };
};

/**
 * The figures a chunk contains or refers to, of those its parent lists: in
 * Markdown, those whose reference (`figure:ID`) it holds; in text, those
 * whose caption it holds, and an uncaptioned one on every chunk of its parent.
 */
const figuresOfChunk = (
  parent: Document,
  text: string,
  captions: ReadonlyMap<string, string>,
): { figures?: string[] } => {
  const listed = parent.metadata.figures;
  if (!Array.isArray(listed) || !listed.length) return {};
  const referred = new Set(figureIdsIn(parent.page_content));
  const ids = (listed as string[]).filter((id) => {
    if (referred.has(id)) return text.includes(`(figure:${id})`);
    // A caption the document's text does not hold (an alt text left out of the text) cannot place it: every chunk.
    const caption = captions.get(id);
    return caption && parent.page_content.includes(caption) ? text.includes(caption) : true;
  });
  return ids.length ? { figures: ids } : {};
};

/** Metadata a chunk does not take from its parent as it is. */
const withoutPerChunk = ({ figures: _figures, ...metadata }: Document['metadata']) => metadata;

export const chunkDocuments = async (
  documents: Document[],
  options: ProcessingOptions,
  context: ChunkingContext,
): Promise<Document[]> => {
  const structured = usesStructure(options);
  const splitter = new RecursiveCharacterSplitter({
    chunkSize: options.chunk_size,
    chunkOverlap: options.chunk_overlap,
    separators: options.chunk_strategy === 'markdown' ? MARKDOWN_SEPARATORS : DEFAULT_SEPARATORS,
    budget: { chunks: context.limits.maxDocuments, characters: context.limits.maxResultBytes },
    ...(options.chunk_size_unit === 'tokens'
      ? { measure: await tokenCounter(options.tokenizer ?? 'cl100k_base') }
      : {}),
  });
  const chunks: Document[] = [];
  const captions = new Map(
    (context.figures ?? []).flatMap((figure) => (figure.caption ? [[figure.id, figure.caption]] : [])),
  );
  if (!structured) {
    for (const parent of documents) {
      splitter.split(parent.page_content).forEach((chunk, index) => {
        chunks.push({
          page_content: chunk.text,
          metadata: {
            ...withoutPerChunk(parent.metadata),
            chunk_index: index,
            start_index: chunk.start,
            ...boxesOfChunk(parent, chunk.start, chunk.text.length),
            ...figuresOfChunk(parent, chunk.text, captions),
          },
        });
      });
      await context.checkpoint();
    }
    return chunks;
  }

  const digest = context.sourceDigest();
  const key = optionsKey(options);
  // One trail through every document: a section that starts on one PDF page goes on over the next.
  const trail = new HeadingTrail();
  for (const [parentIndex, parent] of documents.entries()) {
    const text = parent.page_content;
    const headings = headingLines(text);
    const pieces: { chunk: Chunk; headings: string[] }[] = [];
    if (options.chunk_strategy === 'by_heading') {
      for (const section of sectionsOf(text, headings, trail)) {
        for (const chunk of splitter.splitPart(text, section.start, section.end)) {
          pieces.push({ chunk, headings: section.headings });
        }
      }
    } else {
      const split = splitter.split(text);
      const paths = pathsAtChunks(split, headings, trail);
      split.forEach((chunk, index) => pieces.push({ chunk, headings: paths[index] as string[] }));
      // Headings after the last chunk's start still open sections for the next document.
      for (const heading of headings) if (heading.start > (split.at(-1)?.start ?? -1)) trail.enter(heading);
    }
    pieces.forEach(({ chunk, headings: path }, index) => {
      const end = chunk.start + chunk.text.length;
      chunks.push({
        page_content: chunk.text,
        metadata: {
          ...withoutPerChunk(parent.metadata),
          chunk_index: index,
          start_index: chunk.start,
          end_index: end,
          headings: path,
          chunk_id: chunkIdOf(digest, key, parentIndex, chunk.start, end),
          ...boxesOfChunk(parent, chunk.start, chunk.text.length),
          ...figuresOfChunk(parent, chunk.text, captions),
        },
      });
    });
    await context.checkpoint();
  }
  return chunks;
};
