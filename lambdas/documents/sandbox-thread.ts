import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { serializeResult, type ProcessingResult } from './document.js';
import { FanOutRequired } from './fan-out.js';
import { AppError, type ErrorCode } from '../errors.js';
import { DEFAULT_LIMITS } from './limits.js';
import { defaultThreadCount, prewarmThreads } from './loaders/pdf-pool.js';
import { finishResult, processDocument, readDocument, storedFiguresOf, type ReadPart } from './process-document.js';
import type { ProgressUpdate } from './progress.js';
import type { SandboxJob, SandboxReply, SandboxThreadOptions, StoredPart } from './sandbox.js';
import { optionsOf } from './threads.js';

/**
 * What a failure inside the sandbox becomes. Parsing is a pure function of
 * the bytes: an error that is not already typed (a parser's own exception, a
 * stack overflow on deep nesting, a string past V8's maximum length) would
 * happen again on every retry, so it is a typed failure of the document, never
 * a reason to deliver the message again.
 */
export const describeFailure = (error: unknown): { code: ErrorCode; message: string; detail?: string } => {
  if (error instanceof AppError) return { code: error.code, message: error.message };
  const { name, message } = error instanceof Error ? error : new Error(String(error));
  const detail = `${name}: ${message}`;
  if (error instanceof RangeError && /call stack/i.test(message)) {
    return { code: 'DOCUMENT_PARSE_ERROR', message: 'The document is nested too deeply to be read.', detail };
  }
  if (error instanceof RangeError && /(string length|allocation failed|array length)/i.test(message)) {
    return { code: 'DOCUMENT_TOO_LARGE', message: 'The document expands to more than the service can hold.', detail };
  }
  return { code: 'DOCUMENT_PARSE_ERROR', message: 'The document could not be read; it may be damaged.', detail };
};

/** A stored part as the assembly reads it: this service's own JSON, checked for its version. */
const storedPartOf = (bytes: Uint8Array): StoredPart => {
  const stored = JSON.parse(new TextDecoder().decode(bytes)) as Partial<StoredPart>;
  if (stored.v !== 1 || !stored.part || !stored.source) throw new Error('A stored part is not one this service wrote.');
  return stored as StoredPart;
};

/**
 * Bytes with a buffer of their own, always a copy: a view into a larger
 * buffer cannot be transferred alone, and a buffer Node made (a zip part's
 * inflated bytes, its Buffer pool) may be marked as not transferable at all.
 * (`new Uint8Array(view)` copies; a Buffer's `slice` would not.)
 */
const ownBytes = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes);

/** A part as JSON holds it: its figures' bytes as base64. */
const storablePart = (part: ReadPart): ReadPart =>
  part.figures
    ? {
        ...part,
        figures: {
          ...part.figures,
          images: part.figures.images.map((image) => ({
            ...image,
            bytes: Buffer.from(image.bytes).toString('base64') as unknown as Uint8Array,
          })),
        },
      }
    : part;

/** The figures' bytes of a part read back from its JSON. */
const readablePart = (part: ReadPart): void => {
  for (const image of part.figures?.images ?? []) {
    image.bytes = new Uint8Array(Buffer.from(image.bytes as unknown as string, 'base64'));
  }
};

/** Runs in a sandbox thread: one job at a time, each answered with its result or its typed failure. */
export const serveSandbox = (): void => {
  const port = parentPort;
  if (!port) return;
  const options = optionsOf<SandboxThreadOptions>(workerData);
  // Ready only once its PDF threads are: their start belongs to the function's init, not to the first document.
  const pdfThreads = options?.prewarmPdfThreads
    ? prewarmThreads(defaultThreadCount(), DEFAULT_LIMITS.pdfThreadHeapMb)
    : Promise.resolve();
  const reply = (message: SandboxReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
  port.on('message', (job: SandboxJob) => {
    const limits = { ...DEFAULT_LIMITS, ...job.limits };
    const context = {
      deadline: job.deadline,
      limits,
      onProgress: (update: ProgressUpdate) => reply({ type: 'progress', update }),
    };
    const done = (result: ProcessingResult) => {
      const { headline, json } = serializeResult(result, limits.maxResultBytes);
      const figures = storedFiguresOf(result).map((image) => ({ ...image, bytes: ownBytes(image.bytes) }));
      reply({ type: 'done', headline, json, ...(figures.length ? { figures } : {}) }, [
        json.buffer as ArrayBuffer,
        ...figures.map((image) => image.bytes.buffer as ArrayBuffer),
      ]);
    };
    const failed = (error: unknown) => {
      if (error instanceof FanOutRequired) reply({ type: 'fan-out', plan: error.plan });
      else reply({ type: 'failed', failure: describeFailure(error) });
    };
    if (job.kind === 'document') {
      processDocument(job.input, job.options, { ...context, fanOut: job.fanOut })
        .then(done)
        .catch(failed);
    } else if (job.kind === 'part') {
      const { input } = job;
      readDocument(input, job.options, context)
        .then((part) => {
          const stored: StoredPart = {
            v: 1,
            part: storablePart(part),
            source: {
              filename: input.filename,
              bytes: input.bytes.length,
              sha256: createHash('sha256').update(input.bytes).digest('hex'),
            },
          };
          const json = new TextEncoder().encode(JSON.stringify(stored));
          reply({ type: 'part', json }, [json.buffer]);
        })
        .catch(failed);
    } else {
      Promise.resolve()
        .then(() => {
          const parts = job.parts.map((bytes) => storedPartOf(bytes));
          for (const { part } of parts) readablePart(part);
          const { source } = parts[0] ?? {};
          if (!source) throw new Error('No parts to put together.');
          return finishResult(
            { filename: source.filename, bytes: source.bytes, sha256: () => source.sha256 },
            parts.map(({ part }) => part),
            job.options,
            context,
          );
        })
        .then(done)
        .catch(failed);
    }
  });
  void pdfThreads.then(() => reply({ type: 'ready' }));
};
