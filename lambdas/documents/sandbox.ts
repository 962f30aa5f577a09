import type { Worker } from 'node:worker_threads';
import type { ResultHeadline, SerializedResult } from './document.js';
import type { FigureImage } from './figures/figures.js';
import { FanOutRequired, type FanOutPlan, type FanOutSettings } from './fan-out.js';
import { AppError, type ErrorCode } from '../errors.js';
import type { ProcessingLimits } from './limits.js';
import type { ProcessingOptions } from './options.js';
import type { DocumentInput, ProcessContext, ReadPart } from './process-document.js';
import type { ProgressUpdate } from './progress.js';
import { backstopHeapMb, isOutOfMemory, startThread, watchMemory } from './threads.js';

/**
 * What the host sends a sandbox thread: one document to process (`document`,
 * which may answer that it is to be read in parts), one part of a document
 * to read (`part`), or the parts read to put together (`assemble`).
 */
export type SandboxJob = (
  | { kind: 'document'; input: DocumentInput; fanOut?: FanOutSettings | undefined }
  | { kind: 'part'; input: DocumentInput }
  | { kind: 'assemble'; parts: Uint8Array[] }
) & {
  options: ProcessingOptions;
  limits?: Partial<ProcessingLimits> | undefined;
  deadline?: number | undefined;
};

/** What a sandbox thread answers: progress, then the serialized result (or part, or plan) or a typed failure. */
export type SandboxReply =
  | { type: 'ready' }
  | { type: 'progress'; update: ProgressUpdate }
  | { type: 'done'; headline: ResultHeadline; json: Uint8Array; figures?: FigureImage[] | undefined }
  | { type: 'part'; json: Uint8Array }
  | { type: 'fan-out'; plan: FanOutPlan }
  | { type: 'failed'; failure: { code: ErrorCode; message: string; detail?: string | undefined } };

/** A part as it is stored between its read and the assembly: what it read, and the source it read from. */
export interface StoredPart {
  v: 1;
  part: ReadPart;
  source: { filename: string; bytes: number; sha256: string };
}

/**
 * Bytes in, the stored form of the result out (or a typed failure): always
 * in a sandbox thread. With `context.fanOut`, it may reject with
 * FanOutRequired instead: the document is to be read in parts.
 */
export type ProcessInSandbox = (
  input: DocumentInput,
  options: ProcessingOptions,
  context: ProcessContext,
) => Promise<SerializedResult>;

/** One part of a document read in a sandbox thread: a StoredPart as JSON bytes. */
export type ReadPartInSandbox = (
  input: DocumentInput,
  options: ProcessingOptions,
  context: ProcessContext,
) => Promise<Uint8Array>;

/** Stored parts (in part order) put together in a sandbox thread: the stored form of the result. */
export type AssembleInSandbox = (
  parts: Uint8Array[],
  options: ProcessingOptions,
  context: ProcessContext,
) => Promise<SerializedResult>;

export interface SandboxThreadOptions {
  /** Start the PDF page threads with the sandbox (the large worker, which has several cores). */
  prewarmPdfThreads?: boolean | undefined;
}

export interface SandboxSettings {
  /** Heap plus array buffers a job may hold beyond its input before the thread is stopped. */
  memoryMb: number;
  /** Idle threads kept warm between documents. Default one: a function processes one document at a time. */
  keepWarm?: number | undefined;
  prewarmPdfThreads?: boolean | undefined;
  /** Where the cause of an untyped failure goes (never to the client). */
  log?: ((message: string, detail: string) => void) | undefined;
}

const MB = 1024 * 1024;
const STACK_MB = 4;

export const softTimeLimit = () =>
  new AppError(
    'SOFT_TIME_LIMIT',
    'Processing stopped at the soft time limit before it finished; split the document or retry it on the large queue.',
  );

const tooMuchMemory = () =>
  new AppError(
    'DOCUMENT_TOO_LARGE',
    'The document needs more memory than processing one document may use (it may be a decompression bomb).',
  );

const stoppedUnexpectedly = () =>
  new AppError('DOCUMENT_PARSE_ERROR', 'The document could not be read: the parser stopped unexpectedly.');

/**
 * Untrusted bytes are parsed only here: detection, every loader and the
 * splitter run in a worker thread with a bounded heap and stack, watched for
 * memory outside the heap, and stopped (terminated, not asked) at the
 * deadline or on cancellation. A thread stopped by a limit is a typed task
 * failure; its work never moves to a thread without limits. Threads stay warm
 * between documents, so a small document pays one message each way.
 */
export class SandboxPool {
  private idle: Worker[] = [];
  private closed = false;
  private readonly ready = new WeakMap<Worker, Promise<void>>();
  readonly stats = { started: 0, stopped: 0, jobs: 0 };

  constructor(private readonly settings: SandboxSettings) {}

  private get keepWarm(): number {
    return this.settings.keepWarm ?? 1;
  }

  private spawn(): Worker {
    const options: SandboxThreadOptions = { prewarmPdfThreads: this.settings.prewarmPdfThreads };
    const worker = startThread(
      'sandbox',
      { maxOldGenerationSizeMb: backstopHeapMb(this.settings.memoryMb), stackSizeMb: STACK_MB },
      options,
    );
    // An idle sandbox never keeps the process alive; a busy or starting one does.
    worker.on('error', () => {}); // reported through the job that was running, if any
    this.ready.set(
      worker,
      new Promise<void>((resolve) => {
        const onReady = (reply: SandboxReply) => {
          if (reply.type !== 'ready') return;
          worker.off('message', onReady);
          if (this.idle.includes(worker)) worker.unref();
          resolve();
        };
        worker.on('message', onReady);
        worker.once('exit', () => resolve());
      }),
    );
    this.stats.started++;
    return worker;
  }

  /**
   * Starts threads ahead of the first document (during a function's init,
   * which Lambda does not bill against the invocation) and resolves once they
   * have loaded the processing code.
   */
  async prewarm(count = 1): Promise<void> {
    while (!this.closed && this.idle.length < count) this.idle.push(this.spawn());
    await Promise.all(this.idle.map((worker) => this.ready.get(worker) ?? Promise.resolve()));
  }

  private release(worker: Worker): void {
    worker.unref();
    if (!this.closed && this.idle.length < this.keepWarm) this.idle.push(worker);
    else void worker.terminate();
  }

  private stop(worker: Worker): void {
    this.stats.stopped++;
    void worker.terminate();
    // Keep one warm thread ready for the next document.
    if (!this.closed && this.idle.length === 0) setImmediate(() => void this.prewarm(1));
  }

  /** `processDocument` in a sandbox thread: the result as JSON bytes, or a typed failure (or FanOutRequired). */
  process(input: DocumentInput, options: ProcessingOptions, context: ProcessContext = {}): Promise<SerializedResult> {
    const bytes = new Uint8Array(input.bytes); // a copy in a buffer of its own, then handed over without another
    return this.run<SerializedResult>(
      { kind: 'document', input: { ...input, bytes }, options, fanOut: context.fanOut },
      bytes,
      context,
      (reply) => {
        if (reply.type === 'done') return { headline: reply.headline, json: reply.json, figures: reply.figures };
        if (reply.type === 'fan-out') return new FanOutRequired(reply.plan);
        return undefined;
      },
    );
  }

  /** A part of a document (the pages `options.pages` selects) read in a sandbox thread: a StoredPart's JSON. */
  readPart(input: DocumentInput, options: ProcessingOptions, context: ProcessContext = {}): Promise<Uint8Array> {
    const bytes = new Uint8Array(input.bytes);
    return this.run<Uint8Array>({ kind: 'part', input: { ...input, bytes }, options }, bytes, context, (reply) =>
      reply.type === 'part' ? reply.json : undefined,
    );
  }

  /** Stored parts put together in a sandbox thread (chunked as one document): the result as JSON bytes. */
  assemble(parts: Uint8Array[], options: ProcessingOptions, context: ProcessContext = {}): Promise<SerializedResult> {
    const copies = parts.map((part) => new Uint8Array(part));
    return this.run<SerializedResult>({ kind: 'assemble', parts: copies, options }, copies, context, (reply) =>
      reply.type === 'done' ? { headline: reply.headline, json: reply.json, figures: reply.figures } : undefined,
    );
  }

  /**
   * One job in a sandbox thread: `outcome` turns its final reply into the
   * value (or, as an Error, the rejection); a typed failure rejects with its
   * AppError; a thread that dies or passes a limit is stopped.
   */
  private run<T>(
    job: SandboxJob,
    handedOver: Uint8Array | Uint8Array[],
    context: ProcessContext,
    outcome: (reply: SandboxReply) => T | Error | undefined,
  ): Promise<T> {
    const { signal, deadline, onProgress } = context;
    signal?.throwIfAborted();
    if (deadline !== undefined && Date.now() >= deadline) return Promise.reject(softTimeLimit());
    const worker = this.idle.pop() ?? this.spawn();
    worker.ref();
    this.stats.jobs++;
    const buffers = (Array.isArray(handedOver) ? handedOver : [handedOver]).map((bytes) => bytes.buffer as ArrayBuffer);
    const handedOverBytes = buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);

    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const cleanups: Array<() => void> = [];
      const finish = (healthy: boolean, result: () => void) => {
        if (settled) return;
        settled = true;
        for (const cleanup of cleanups) cleanup();
        if (healthy) this.release(worker);
        else this.stop(worker);
        result();
      };
      const fail = (error: Error) => finish(false, () => reject(error));

      const onMessage = (reply: SandboxReply) => {
        if (reply.type === 'ready') return;
        if (reply.type === 'progress') {
          onProgress?.(reply.update);
          return;
        }
        if (reply.type === 'failed') {
          const { code, message, detail } = reply.failure;
          if (detail) this.settings.log?.('Document failed in the sandbox', detail);
          finish(true, () => reject(new AppError(code, message)));
          return;
        }
        const value = outcome(reply);
        if (value === undefined) fail(stoppedUnexpectedly());
        else if (value instanceof Error) finish(true, () => reject(value));
        else finish(true, () => resolve(value));
      };
      const onError = (error: Error) => fail(isOutOfMemory(error) ? tooMuchMemory() : stoppedUnexpectedly());
      const onExit = () => fail(stoppedUnexpectedly());
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      cleanups.push(() => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      });

      if (deadline !== undefined) {
        const timer = setTimeout(() => fail(softTimeLimit()), Math.max(0, deadline - Date.now()));
        cleanups.push(() => clearTimeout(timer));
      }
      if (signal) {
        const onAbort = () => fail(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
        signal.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => signal.removeEventListener('abort', onAbort));
      }
      cleanups.push(watchMemory(worker, this.settings.memoryMb * MB + handedOverBytes, () => fail(tooMuchMemory())));
      worker.postMessage({ ...job, limits: context.limits, deadline } satisfies SandboxJob, buffers);
    });
  }

  /** Stops the idle threads (busy ones finish their document). */
  async close(): Promise<void> {
    this.closed = true;
    const idle = this.idle;
    this.idle = [];
    await Promise.all(idle.map((worker) => worker.terminate()));
  }
}
