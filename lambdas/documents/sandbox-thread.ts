import { parentPort, workerData } from 'node:worker_threads';
import { serializeResult } from './document.js';
import { AppError, type ErrorCode } from '../errors.js';
import { DEFAULT_LIMITS } from './limits.js';
import { defaultThreadCount, prewarmThreads } from './loaders/pdf-pool.js';
import { processDocument } from './process-document.js';
import type { SandboxJob, SandboxReply, SandboxThreadOptions } from './sandbox.js';
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
    processDocument(job.input, job.options, {
      deadline: job.deadline,
      limits,
      onProgress: (update) => reply({ type: 'progress', update }),
    })
      .then((result) => {
        const { headline, json } = serializeResult(result, limits.maxResultBytes);
        reply({ type: 'done', headline, json }, [json.buffer as ArrayBuffer]);
      })
      .catch((error: unknown) => reply({ type: 'failed', failure: describeFailure(error) }));
  });
  void pdfThreads.then(() => reply({ type: 'ready' }));
};
