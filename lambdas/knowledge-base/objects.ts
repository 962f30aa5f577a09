import {
  KB_SIDECAR_MAX_BYTES,
  KB_STRING_MAX,
  type KbAttributeValue,
  type KbDestination,
} from '../../shared/knowledge-base.js';
import type { Document, ProcessingResult } from '../documents/document.js';
import type { Task } from '../core/task.js';

/**
 * What a succeeded task writes under a knowledge-base destination: its
 * document as one Markdown (or text) object, and beside it the sidecar the
 * KB's S3 data source reads as the document's metadata
 * (`<object key>.metadata.json`, `{"metadataAttributes": {…}}`).
 */
export interface KbObjects {
  document: { key: string; body: string; contentType: string };
  sidecar: { key: string; body: string; contentType: 'application/json' };
}

/** Attributes the service writes; an operator's own attributes of the same name give way to them. */
export const SERVICE_ATTRIBUTES = [
  'source',
  'filename',
  'format',
  'task_id',
  'batch_id',
  'pages',
  'characters',
  'title',
  'language',
  'processed_at',
] as const;

/** The sidecar attribute the transformation finds a document's task by. */
export const TASK_ATTRIBUTE = 'task_id';

const MAX_NAME_CHARACTERS = 150;

/**
 * A file name safe as the last segment of an S3 key, kept readable (letters
 * of every script stay): no separators, controls or characters that need
 * escaping in URLs and consoles; the extension replaced by the output's.
 */
export const objectName = (filename: string, extension: 'md' | 'txt'): string => {
  const base = filename.split(/[\\/]/).pop() ?? '';
  const stem = base.replace(/\.[^.]{1,10}$/, '');
  const safe = stem
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f?#%*:|"<>\\/{}[\]^`~]/g, '_')
    .replace(/^[.\s]+|\s+$/g, '')
    .slice(0, MAX_NAME_CHARACTERS);
  return `${safe || 'document'}.${extension}`;
};

/** Where a task's document goes: its own folder under the prefix, so a retried task overwrites it. */
export const documentKey = (
  destination: KbDestination,
  task: Pick<Task, 'task_id' | 'source'>,
  extension: 'md' | 'txt',
) => `${destination.prefix}${task.task_id}/${objectName(task.source.filename, extension)}`;

/** The KB's sidecar convention: the document's key with `.metadata.json` appended. */
export const sidecarKey = (documentKey: string): string => `${documentKey}.metadata.json`;

/**
 * The document's text: each document of the result once, in order. Chunks
 * (`split`) are put back together: where a chunk's `start_index` says it
 * begins inside what the previous chunk of the same document covered, only
 * the rest of it is kept, so overlaps are not repeated.
 */
export const documentBody = (documents: readonly Document[]): string => {
  const pieces: string[] = [];
  let previous: { page: unknown; end: number } | undefined;
  for (const { page_content: text, metadata } of documents) {
    const start = typeof metadata.start_index === 'number' ? metadata.start_index : undefined;
    if (start === undefined) {
      pieces.push(text);
      previous = undefined;
      continue;
    }
    const sameDocument = previous && previous.page === metadata.page && start < previous.end && start >= 0;
    if (sameDocument && previous) {
      const fresh = text.slice(previous.end - start);
      if (fresh) pieces[pieces.length - 1] += fresh;
    } else {
      pieces.push(text);
    }
    previous = { page: metadata.page, end: Math.max(start + text.length, sameDocument && previous ? previous.end : 0) };
  }
  return pieces.filter((piece) => piece.length).join('\n\n');
};

const clip = (text: string): string => (text.length <= KB_STRING_MAX ? text : `${text.slice(0, KB_STRING_MAX - 1)}…`);

const firstString = (documents: readonly Document[], name: string): string | undefined => {
  for (const { metadata } of documents) {
    const value = metadata[name];
    if (typeof value === 'string' && value.trim()) return value.trim();
  }
  return undefined;
};

/**
 * The sidecar's attributes: the operator's, then the service's (which win):
 * where the document came from, the task and batch that read it, its size,
 * and its title and language where the format has them. Every value within
 * the KB's types and lengths; absent values are left out (the KB refuses
 * empty strings).
 */
export const sidecarAttributes = (
  task: Pick<Task, 'task_id' | 'source' | 'batch'>,
  source: string,
  result: Pick<ProcessingResult, 'format' | 'stats' | 'documents'>,
  destination: KbDestination,
  processedAt: Date,
): Record<string, KbAttributeValue> => {
  const own: Record<string, KbAttributeValue | undefined> = {
    source: clip(source),
    filename: clip(task.source.filename) || undefined,
    format: result.format,
    task_id: task.task_id,
    batch_id: task.batch?.id,
    pages: result.stats.pages,
    characters: result.stats.characters,
    title: ((title) => (title ? clip(title) : undefined))(
      firstString(result.documents, 'book_title') ?? firstString(result.documents, 'title'),
    ),
    language: firstString(result.documents, 'language'),
    processed_at: Math.floor(processedAt.getTime() / 1000),
  };
  const attributes: Record<string, KbAttributeValue> = { ...(destination.attributes ?? {}) };
  for (const [name, value] of Object.entries(own)) if (value !== undefined) attributes[name] = value;
  return attributes;
};

/** The sidecar's bytes, within the KB's 10 KB: the title and then the source are shortened first if need be. */
export const sidecarBody = (attributes: Record<string, KbAttributeValue>): string => {
  let body = JSON.stringify({ metadataAttributes: attributes });
  for (const name of ['title', 'source'] as const) {
    if (Buffer.byteLength(body) <= KB_SIDECAR_MAX_BYTES) break;
    const value = attributes[name];
    if (typeof value === 'string') {
      attributes[name] = `${value.slice(0, 200)}…`;
      body = JSON.stringify({ metadataAttributes: attributes });
    }
  }
  return body;
};

export const kbObjects = (
  task: Pick<Task, 'task_id' | 'source' | 'batch' | 'options'>,
  source: string,
  result: Pick<ProcessingResult, 'format' | 'stats' | 'documents'>,
  destination: KbDestination,
  processedAt: Date,
): KbObjects => {
  const markdown = task.options.output_format === 'markdown';
  const key = documentKey(destination, task, markdown ? 'md' : 'txt');
  return {
    document: {
      key,
      body: documentBody(result.documents),
      contentType: markdown ? 'text/markdown; charset=utf-8' : 'text/plain; charset=utf-8',
    },
    sidecar: {
      key: sidecarKey(key),
      body: sidecarBody(sidecarAttributes(task, source, result, destination, processedAt)),
      contentType: 'application/json',
    },
  };
};
