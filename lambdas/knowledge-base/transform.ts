import { createHash } from 'node:crypto';
import * as z from 'zod';
import { KB_STRING_LIST_MAX, KB_STRING_MAX } from '../../shared/knowledge-base.js';
import type { Document, PageBox, ProcessingResult } from '../documents/document.js';
import { TASK_ID_PATTERN, type Task } from '../core/task.js';
import { TASK_ATTRIBUTE } from './objects.js';

/**
 * A Bedrock Knowledge Base's post-chunking step (the Bedrock user guide,
 * "Use a custom transformation Lambda function"): the KB hands the function
 * the files it has parsed and chunked, each as content batch files in the
 * intermediate bucket; the function answers each file with the batch files
 * to index instead. A file the service delivered (its sidecar's `task_id`,
 * and the key the task wrote it at) is answered with the service's chunks of
 * it (their heading path, pages and boxes as chunk metadata); any other file,
 * or one whose result is gone, keeps the KB's chunks, untouched.
 */

/** The event, as the user guide gives its contract ("Custom Lambda transformation input format"). */
const s3LocationSchema = z.looseObject({
  type: z.string().optional(),
  s3_location: z.looseObject({ key: z.string().optional(), uri: z.string().optional(), bucket: z.string().optional() }),
});
const inputFileSchema = z.looseObject({
  originalFileLocation: s3LocationSchema,
  fileMetadata: z.record(z.string(), z.unknown()).optional(),
  contentBatches: z.array(z.looseObject({ key: z.string().min(1) })),
});
export const transformEventSchema = z.looseObject({
  version: z.string(),
  knowledgeBaseId: z.string().min(1),
  dataSourceId: z.string().min(1),
  ingestionJobId: z.string().min(1),
  bucketName: z.string().min(1),
  priorTask: z.string().optional(),
  inputFiles: z.array(inputFileSchema),
});
export type TransformEvent = z.infer<typeof transformEventSchema>;
type InputFile = z.infer<typeof inputFileSchema>;

/** The answer ("Custom Lambda transformation output format"): the same files, each with the batches to index. */
export interface TransformResponse {
  outputFiles: Array<{
    originalFileLocation: InputFile['originalFileLocation'];
    fileMetadata?: Record<string, unknown> | undefined;
    contentBatches: Array<{ key: string }>;
  }>;
}

/** One content batch file ("Custom Lambda transformation file format"). */
const batchFileSchema = z.looseObject({
  fileContents: z.array(
    z.looseObject({
      contentBody: z.string(),
      contentType: z.string().optional(),
      contentMetadata: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
});
type ChunkMetadata = Record<string, string | number | boolean | string[]>;
interface BatchFile {
  fileContents: Array<{ contentBody: string; contentType: 'TEXT'; contentMetadata: ChunkMetadata }>;
}

/** The event was not the contract's: the function fails (the ingestion job reports it), writing nothing. */
export class TransformEventError extends Error {
  override readonly name = 'TransformEventError';
}

export interface TransformDeps {
  getTask(taskId: string): Promise<Task | undefined>;
  /** Throws `TooLarge` past `maxBytes`. */
  read(bucket: string, key: string, maxBytes: number): Promise<Uint8Array>;
  write(bucket: string, key: string, body: string): Promise<void>;
  /** The largest batch file or result read whole. */
  maxBytes: number;
  log(level: 'info' | 'warn', message: string, detail: Record<string, unknown>): void;
}

/** Chunks per batch file the function writes: a batch of a size the KB reads in one go. */
export const CHUNKS_PER_BATCH = 100;

const keyOf = (location: InputFile['originalFileLocation']): { bucket?: string | undefined; key: string } => {
  const { key, uri, bucket } = location.s3_location;
  if (key && !key.startsWith('s3://')) return { bucket, key };
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(key ?? uri ?? '');
  return match ? { bucket: match[1], key: match[2] ?? '' } : { bucket, key: key ?? uri ?? '' };
};

/** The task a file came from: its sidecar's attribute, or the task folder of the key the worker wrote. */
const taskIdOf = (file: InputFile, key: string): string | undefined => {
  const attribute = file.fileMetadata?.[TASK_ATTRIBUTE];
  if (typeof attribute === 'string' && TASK_ID_PATTERN.test(attribute)) return attribute.toLowerCase();
  const folder = key.split('/').at(-2);
  return folder && TASK_ID_PATTERN.test(folder) ? folder.toLowerCase() : undefined;
};

const clip = (text: string) => (text.length <= KB_STRING_MAX ? text : `${text.slice(0, KB_STRING_MAX - 1)}…`);

/** One page's box around every line of a chunk on it, as `page:x0,y0,x1,y1` (points, top-left origin). */
const boxesOf = (boxes: readonly PageBox[]): string[] => {
  const byPage = new Map<number, PageBox>();
  for (const box of boxes) {
    const seen = byPage.get(box.page);
    byPage.set(
      box.page,
      seen
        ? {
            page: box.page,
            x0: Math.min(seen.x0, box.x0),
            y0: Math.min(seen.y0, box.y0),
            x1: Math.max(seen.x1, box.x1),
            y1: Math.max(seen.y1, box.y1),
          }
        : box,
    );
  }
  return [...byPage.values()]
    .slice(0, KB_STRING_LIST_MAX)
    .map(
      ({ page, x0, y0, x1, y1 }) => `${page}:${[x0, y0, x1, y1].map((value) => Math.round(value * 10) / 10).join(',')}`,
    );
};

/**
 * A chunk's metadata in the KB's types: the KB's own file-level attributes
 * (`x-amz-bedrock-kb-*`, from its first chunk), then the service's: where the
 * chunk is (page, heading path, boxes) and which task read it.
 */
export const chunkMetadata = (document: Document, taskId: string, inherited: ChunkMetadata): ChunkMetadata => {
  const { metadata } = document;
  const own: ChunkMetadata = { ...inherited, [TASK_ATTRIBUTE]: taskId };
  for (const name of ['page', 'total_pages', 'chunk_index', 'sheet', 'slide'] as const) {
    const value = metadata[name];
    if (typeof value === 'number' || (typeof value === 'string' && value)) own[name] = value;
  }
  const headings = metadata.headings;
  if (Array.isArray(headings) && headings.every((heading) => typeof heading === 'string')) {
    const path = headings.filter(Boolean);
    if (path.length) {
      own.headings = path.slice(-KB_STRING_LIST_MAX).map(clip);
      own.heading_path = clip(path.join(' > '));
    }
  }
  const boxes = metadata.boxes;
  if (Array.isArray(boxes) && boxes.length && typeof boxes[0] === 'object') own.boxes = boxesOf(boxes as PageBox[]);
  if (typeof metadata.ocr === 'boolean') own.ocr = metadata.ocr;
  return own;
};

const sha = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** The KB's own attributes, from the first chunk of a batch file it wrote (they are the same for every chunk of a file). */
const inheritedOf = (batch: z.infer<typeof batchFileSchema>): ChunkMetadata => {
  const first = batch.fileContents[0]?.contentMetadata ?? {};
  const kept: ChunkMetadata = {};
  for (const [name, value] of Object.entries(first)) {
    if (!name.startsWith('x-amz-bedrock-kb-')) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') kept[name] = value;
  }
  return kept;
};

type Replacement = { chunks: Document[]; taskId: string } | { keep: string };

/**
 * The service's chunks of a file, or why the KB's are kept: no task, another
 * key than the task wrote (a sidecar cannot borrow another task's result),
 * the task not SUCCESS, its result expired, too large or unreadable.
 */
const replacementFor = async (deps: TransformDeps, file: InputFile): Promise<Replacement> => {
  const location = keyOf(file.originalFileLocation);
  const taskId = taskIdOf(file, location.key);
  if (!taskId) return { keep: 'not a document the service delivered' };
  const task = await deps.getTask(taskId);
  const delivered = task?.result?.delivered;
  if (!task || task.status !== 'SUCCESS' || !task.result || !delivered) {
    return { keep: `task ${taskId} has no delivered result (expired, or never succeeded)` };
  }
  if (delivered.document_key !== location.key || (location.bucket && location.bucket !== delivered.bucket)) {
    return { keep: `task ${taskId} delivered another object than this one` };
  }
  let result: ProcessingResult;
  try {
    const bytes = await deps.read(task.result.bucket, task.result.key, deps.maxBytes);
    result = JSON.parse(Buffer.from(bytes).toString('utf8')) as ProcessingResult;
  } catch (error) {
    return { keep: `the result of task ${taskId} could not be read: ${(error as Error).message}` };
  }
  const chunks = result.documents.filter((document) => document.page_content.trim().length > 0);
  return chunks.length ? { chunks, taskId } : { keep: `the result of task ${taskId} has no text` };
};

/** The KB's first batch file of a document, read to carry its own attributes over; undefined when unusable. */
const readKbBatch = async (
  deps: TransformDeps,
  bucket: string,
  key: string,
): Promise<z.infer<typeof batchFileSchema> | string> => {
  let bytes: Uint8Array;
  try {
    bytes = await deps.read(bucket, key, deps.maxBytes);
  } catch (error) {
    return `the KB's batch file ${key} could not be read (${(error as Error).message})`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return `the KB's batch file ${key} is not JSON`;
  }
  const batch = batchFileSchema.safeParse(parsed);
  return batch.success ? batch.data : `the KB's batch file ${key} is not a content batch (no fileContents)`;
};

/**
 * Answers the event: every input file in the output, in order, with its
 * metadata; each the service delivered with its own chunks written as new
 * batch files under `docproc/<ingestion job>/` of the intermediate bucket.
 * A malformed event throws TransformEventError before anything is written.
 */
export const transformBatches = async (deps: TransformDeps, event: unknown): Promise<TransformResponse> => {
  const parsed = transformEventSchema.safeParse(event);
  if (!parsed.success) {
    const where = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`);
    throw new TransformEventError(`Not a knowledge-base transformation event: ${where.join('; ')}`);
  }
  const { bucketName, ingestionJobId, inputFiles } = parsed.data;
  const outputFiles: TransformResponse['outputFiles'] = [];
  for (const file of inputFiles) {
    const kept = {
      originalFileLocation: file.originalFileLocation,
      ...(file.fileMetadata ? { fileMetadata: file.fileMetadata } : {}),
      contentBatches: file.contentBatches.map(({ key }) => ({ key })),
    };
    const replacement = await replacementFor(deps, file);
    if ('keep' in replacement) {
      deps.log('info', "Kept the KB's chunks", {
        file: keyOf(file.originalFileLocation).key,
        reason: replacement.keep,
      });
      outputFiles.push(kept);
      continue;
    }
    const first = file.contentBatches[0];
    const kbBatch = first ? await readKbBatch(deps, bucketName, first.key) : { fileContents: [] };
    if (typeof kbBatch === 'string') {
      // Nothing lost: the KB indexes its own chunks of this file, as without the service.
      deps.log('warn', "Kept the KB's chunks", { file: keyOf(file.originalFileLocation).key, reason: kbBatch });
      outputFiles.push(kept);
      continue;
    }
    const inherited = inheritedOf(kbBatch);
    const folder = `docproc/${ingestionJobId}/${sha(keyOf(file.originalFileLocation).key)}`;
    const contentBatches: Array<{ key: string }> = [];
    for (let start = 0; start < replacement.chunks.length; start += CHUNKS_PER_BATCH) {
      const batch: BatchFile = {
        fileContents: replacement.chunks.slice(start, start + CHUNKS_PER_BATCH).map((chunk) => ({
          contentBody: chunk.page_content,
          contentType: 'TEXT',
          contentMetadata: chunkMetadata(chunk, replacement.taskId, inherited),
        })),
      };
      const key = `${folder}/${contentBatches.length}.json`;
      await deps.write(bucketName, key, JSON.stringify(batch));
      contentBatches.push({ key });
    }
    deps.log('info', "Replaced the KB's chunks", {
      file: keyOf(file.originalFileLocation).key,
      task_id: replacement.taskId,
      chunks: replacement.chunks.length,
    });
    outputFiles.push({ ...kept, contentBatches });
  }
  return { outputFiles };
};
