import { API_BASE_PATH, PREVIEW_LIMITS } from '../../shared/definitions.js';
import type { ProcessingResult, SerializedResult } from '../documents/document.js';
import { AppError } from '../errors.js';
import type { ProcessingOptions } from '../documents/options.js';
import type { BlobStore, FetchSource } from './ports.js';
import type { DocumentInput } from '../documents/process-document.js';
import type { ProcessInSandbox } from '../documents/sandbox.js';
import type { SubmissionRequest } from './submission.js';
import { SOURCE_FETCH } from './url-policy.js';

/**
 * A document processed within one request (`POST /documents/preview`): read
 * within the preview's caps, processed in the sandbox exactly as a worker
 * processes a task's input, and nothing stored. The result is the one an
 * asynchronous task would store for the same bytes and options.
 */

/** What a preview reads: a multipart file's bytes, or a source the route has checked (as process checks it). */
export type PreviewRequest = Extract<SubmissionRequest, { kind: 'upload' | 'source' }>;

export interface PreviewDeps {
  blobs: Pick<BlobStore, 'get'>;
  fetchSource: FetchSource;
  processDocument: ProcessInSandbox;
}

export interface PreviewPolicy {
  /** Epoch ms at which reading and processing stop (SOURCE_FETCH_FAILED, SOFT_TIME_LIMIT). */
  deadline: number;
  /** The largest result the response may carry, measured as it travels (escaped, as GET tasks/{id} measures it). */
  maxResultBytes: number;
  /** Lets URL sources reach loopback addresses (local tests only). */
  allowPrivateAddresses: boolean;
}

const ASYNC_ROUTES = `POST /${API_BASE_PATH}/upload, /${API_BASE_PATH}/upload-url (large files) or /${API_BASE_PATH}/process (URLs and s3:// URIs)`;
const USE_ASYNC = `Submit it to ${ASYNC_ROUTES} instead, and poll the task.`;

/** A document above the preview's size cap: the way to process it, in the message. */
export const previewTooLarge = () =>
  new AppError(
    'PAYLOAD_TOO_LARGE',
    `Previews take documents up to ${PREVIEW_LIMITS.maxInputBytes} bytes (and PDFs up to ${PREVIEW_LIMITS.maxPages} pages). ${USE_ASYNC}`,
  );

/**
 * The answer to a document that failed: its own code, with a way forward
 * where the preview's caps were the cause. Past a cap (size, pages, memory,
 * result) is a 413; past the time budget keeps its 422 like every other
 * failure of the document, since the same bytes would take as long again
 * (a 5xx would page operators and invite clients to retry).
 */
const previewFailure = (error: AppError): AppError => {
  switch (error.code) {
    case 'SOURCE_TOO_LARGE':
      return previewTooLarge();
    case 'DOCUMENT_TOO_LARGE':
      return new AppError(error.code, `${error.message} ${USE_ASYNC}`, { status: 413, cause: error });
    case 'SOFT_TIME_LIMIT':
      return new AppError(
        error.code,
        `The document takes longer than a preview may (${PREVIEW_LIMITS.timeBudgetMs / 1000} s). ${USE_ASYNC}`,
        { cause: error },
      );
    default:
      return error;
  }
};

/** The bytes, with the name, source and content type the worker would give the same document. */
const readInput = async (deps: PreviewDeps, request: PreviewRequest, policy: PreviewPolicy): Promise<DocumentInput> => {
  if (request.kind === 'upload') {
    return { bytes: request.bytes, filename: request.filename, contentType: request.contentType };
  }
  const { source, input } = request;
  const described = { filename: source.filename, source: source.type === 'url' ? source.url : source.uri };
  if (input.kind === 'url') {
    const timeoutMs = Math.max(0, policy.deadline - Date.now());
    const fetched = await deps.fetchSource(input.url, {
      maxBytes: PREVIEW_LIMITS.maxInputBytes,
      timeoutMs,
      connectTimeoutMs: Math.min(SOURCE_FETCH.connectTimeoutMs, timeoutMs),
      maxRedirects: SOURCE_FETCH.maxRedirects,
      allowPrivateAddresses: policy.allowPrivateAddresses,
    });
    return { ...described, bytes: fetched.bytes, contentType: fetched.contentType };
  }
  // The size the route read (HEAD) refuses an object too large before any of it is read.
  if ((request.sizeBytes ?? 0) > PREVIEW_LIMITS.maxInputBytes) throw previewTooLarge();
  const stored = await deps.blobs.get(input.bucket, input.key, PREVIEW_LIMITS.maxInputBytes);
  return { ...described, bytes: stored.bytes, contentType: stored.contentType };
};

const resultTooLarge = (maxBytes: number) =>
  new AppError(
    'DOCUMENT_TOO_LARGE',
    `The result is larger than a response carries (${maxBytes} bytes of JSON); use a larger chunk_size or a smaller chunk_overlap. ${USE_ASYNC}`,
    { status: 413 },
  );

/** Read and processed within the preview's caps, in the sandbox. */
const processWithinCaps = async (
  deps: PreviewDeps,
  request: PreviewRequest,
  options: ProcessingOptions,
  policy: PreviewPolicy,
): Promise<SerializedResult> =>
  deps.processDocument(await readInput(deps, request, policy), options, {
    deadline: policy.deadline,
    limits: {
      maxInputBytes: PREVIEW_LIMITS.maxInputBytes,
      maxPages: PREVIEW_LIMITS.maxPages,
      maxResultBytes: policy.maxResultBytes,
    },
  });

/** The result of processing the request's document, or a typed failure (see `previewFailure`). */
export const previewDocument = async (
  deps: PreviewDeps,
  request: PreviewRequest,
  options: ProcessingOptions,
  policy: PreviewPolicy,
): Promise<ProcessingResult> => {
  const { json } = await processWithinCaps(deps, request, options, policy).catch((error: unknown) => {
    throw error instanceof AppError ? previewFailure(error) : error;
  });
  // The response travels as a string inside Lambda's JSON envelope, where quotes and backslashes are escaped again.
  const text = Buffer.from(json).toString('utf8');
  if (Buffer.byteLength(JSON.stringify(text)) > policy.maxResultBytes) throw resultTooLarge(policy.maxResultBytes);
  return JSON.parse(text) as ProcessingResult;
};
