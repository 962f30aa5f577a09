import { randomUUID } from 'node:crypto';
import { createReadStream, openAsBlob } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  aborted,
  DocprocError,
  errorFromResponse,
  isRetryableStatus,
  unreachable,
  wasNotSent,
  type DocprocErrorOptions,
} from './errors.js';
import { mediaTypeOf } from './files.js';
import { abortableSleep, backoffDelay, DEFAULT_RETRY, retryAfterMs, type RetryPolicy } from './retry.js';
import {
  FINAL_BATCH_STATUSES,
  isFinal,
  type Batch,
  type CallbackOptions,
  type Delivery,
  type FigureLink,
  type FullTaskResult,
  type ProcessingOptions,
  type SubmittedTask,
  type Task,
  type TaskPage,
  type TaskStatus,
} from './types.js';

/**
 * A typed client of the document service (API.md). It hides what every
 * caller would otherwise write again: the switch to a presigned upload for
 * large files (streamed from disk), retries with backoff, an Idempotency-Key
 * on every submission so a retried one never makes two tasks, long polling,
 * paging, and one error type carrying the service's code.
 */

export { DocprocError, isDocprocError, isRetryableStatus, SDK_ERROR_CODES, type SdkErrorCode } from './errors.js';
export { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
export * from './types.js';

/** Files up to this size go as one multipart POST; larger ones through `upload-url` (API Gateway and Lambda limits). */
export const DIRECT_UPLOAD_LIMIT = 4 * 1024 * 1024;

/** `npm start`'s address. */
export const DEFAULT_BASE_URL = 'http://localhost:8000/documents/async';

/** The longest long poll the service takes (`GET tasks/{id}?wait=N`, N ≤ 20). */
export const MAX_WAIT_SECONDS = 20;

const SDK_VERSION = '0.1.0';

export interface DocprocClientOptions {
  /**
   * The document API's base (`…/documents/async`; the `ApiUrl` output of a
   * deployment). A bare origin gets `/documents/async` added. Default:
   * `DOCPROC_URL`, else `http://localhost:8000/documents/async`.
   */
  baseUrl?: string;
  /** Sent as `x-api-key`. Default: `DOCPROC_API_KEY`, else none (the embedded stack needs none). */
  apiKey?: string;
  retry?: Partial<RetryPolicy>;
  /** Per attempt of an API call, a long poll's wait added (default 60 s). Transfers have `transferIdleTimeoutMs` instead. */
  requestTimeoutMs?: number;
  /**
   * The presigned PUT and the `result_url` GET, which may rightly take long,
   * give up (DocprocError `TIMEOUT`) when no bytes move either way for this
   * long (default 60 s).
   */
  transferIdleTimeoutMs?: number;
  /** Above this a file goes through `upload-url` (default `DIRECT_UPLOAD_LIMIT`; a deployment may set less). */
  directUploadLimit?: number;
  /** Seams for tests and for callers with their own HTTP stack, clock or randomness. */
  fetch?: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface SubmitOptions extends ProcessingOptions, CallbackOptions, RequestOptions {
  /** Default: a new UUID per call, reused by that call's retries. Give your own to de-duplicate across runs. */
  idempotencyKey?: string;
}

export interface SubmitFileOptions extends SubmitOptions {
  /** Default: the path's base name; `document` for bytes. */
  filename?: string;
  /** Default: from the file name's extension. */
  contentType?: string;
  /** Bytes sent so far of a presigned upload (large files only). */
  onUploadProgress?: (sentBytes: number, totalBytes: number) => void;
}

/** `POST upload-url`'s answer: `upload` is absent on a replay whose bytes already landed. */
export interface PresignedUpload {
  task_id: string;
  status: TaskStatus;
  upload?: { url: string; method: string; headers: Record<string, string>; expires_at?: string };
  replayed: boolean;
}

export interface GetTaskOptions extends RequestOptions {
  /** Long poll: answer as soon as the task is final, or after this many seconds (≤ 20). */
  wait?: number;
}

export interface WaitOptions extends RequestOptions {
  /** Called with the task at first sight and at each change of status, progress or stage. */
  onProgress?: (task: Task) => void;
  /** Give up after this long: DocprocError `TIMEOUT`. Default: wait as long as it takes. */
  timeoutMs?: number;
  /**
   * Seconds per long poll (≤ 20). The service answers a long poll early only
   * when the task is final, so progress is seen once per poll: the default is
   * 20 without `onProgress`, 2 with it.
   */
  waitSeconds?: number;
  /** When the service ignores `wait` (an older deployment): the first polling interval, doubling to 5 s (default 500 ms). */
  pollIntervalMs?: number;
}

export interface ListTasksOptions extends RequestOptions {
  status?: TaskStatus;
  /** Tasks per page, 1–100 (the service's default is 20). */
  limit?: number;
  /** Resume a listing from a page's `next_token`. */
  next_token?: string;
}

export interface BatchOptions extends ProcessingOptions, CallbackOptions, RequestOptions {
  /** Default: a new UUID per call, reused by that call's retries. Give your own to de-duplicate across runs. */
  idempotencyKey?: string;
}

export interface WaitForBatchOptions extends RequestOptions {
  onProgress?: (batch: Batch) => void;
  timeoutMs?: number;
  /** First polling interval, doubling to 10 s (default 1 s): batches have no long poll. */
  pollIntervalMs?: number;
}

/**
 * How a call may be repeated. `idempotent`: after any retryable failure
 * (reads, submissions carrying an Idempotency-Key, cancels). `unsent`: only
 * when the request surely did not reach the service (429 throttling, a
 * refused connection), because doing it twice would do twice what it does.
 */
type RetryMode = 'idempotent' | 'unsent';

interface Call {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  what: string;
  retry: RetryMode;
  headers?: Record<string, string>;
  /** Built again for each attempt: a stream is read once. `moved`: call it as bytes go out (the idle timer). */
  body?: (moved: () => void) => RequestInit['body'];
  signal?: AbortSignal | undefined;
  /** `null`: no timeout. */
  timeoutMs?: number | null;
  /** Give up when no bytes move either way for this long (a transfer whose length has no bound). */
  idleTimeoutMs?: number;
  /** Send the API key (not to presigned storage URLs: they carry their own authority). */
  auth?: boolean;
  errorFor?: (status: number, headers: Headers, text: string) => DocprocError;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** Every option field a submission sends (a test ties it to the service's own list). */
export const OPTION_FIELDS = [
  'split',
  'chunk_size',
  'chunk_overlap',
  'output_format',
  'chunk_strategy',
  'chunk_size_unit',
  'tokenizer',
  'pages',
  'ocr',
  'ocr_languages',
  'quality',
  'include_boxes',
  'figures',
  'no_cache',
  'destination',
  'callback_url',
  'callback_events',
] as const satisfies ReadonlyArray<keyof (ProcessingOptions & CallbackOptions)>;

/** The wire fields of a submission's options, without the SDK's own controls. */
const wireOptions = (options: ProcessingOptions & CallbackOptions): Record<string, unknown> =>
  Object.fromEntries(OPTION_FIELDS.filter((key) => options[key] !== undefined).map((key) => [key, options[key]]));

/** The same fields as form fields: booleans and numbers as text, event lists comma-separated. */
const formFields = (options: ProcessingOptions & CallbackOptions): Array<[string, string]> =>
  Object.entries(wireOptions(options)).map(([key, value]) => [
    key,
    Array.isArray(value) ? value.join(',') : String(value as string | number | boolean),
  ]);

const normaliseBaseUrl = (value: string): string => {
  const url = new URL(value);
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path === '' ? '/documents/async' : path;
  return url.href.replace(/\/+$/, '');
};

const progressKey = (task: Task) => `${task.status}|${task.progress}|${task.stage}`;

/** S3's error bodies are XML: its Code and Message say why an upload was refused. */
const storageError = (status: number, _headers: Headers, text: string): DocprocError => {
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  const reason = [code, message].filter(Boolean).join(': ') || text.slice(0, 200);
  return new DocprocError('UPLOAD_FAILED', `Storage refused the upload: HTTP ${status}${reason ? `: ${reason}` : ''}`, {
    status,
    retryable: isRetryableStatus(status),
  });
};

const changedSize = (path: string, total: number) =>
  new DocprocError(
    'FILE_NOT_READABLE',
    `Cannot read ${path}: the file changed size while it was uploaded (${total} bytes when measured).`,
  );

/**
 * A file's bytes as they are read from disk, for a request body: exactly
 * `total` of them, the length announced (and signed into the URL). A file
 * that turns out shorter or longer fails the request with FILE_NOT_READABLE,
 * where sending what is there would leave storage waiting for the missing
 * bytes or refusing the surplus. The stream is opened here, inside the
 * iteration fetch drives, so that a read error (the file gone since it was
 * measured) rejects the request, where an error event on a stream fetch had
 * not started reading would end the process.
 */
async function* fileChunks(path: string, total: number, report?: (sent: number, total: number) => void) {
  let sent = 0;
  try {
    // `end` is inclusive: one byte past the measured size, to see that the file grew.
    for await (const chunk of createReadStream(path, { start: 0, end: total }) as AsyncIterable<Uint8Array>) {
      if (sent + chunk.length > total) throw changedSize(path, total);
      sent += chunk.length;
      report?.(sent, total);
      yield chunk;
    }
  } catch (error) {
    if (error instanceof DocprocError) throw error;
    throw new DocprocError('FILE_NOT_READABLE', `Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (sent < total) throw changedSize(path, total);
}

/** Bytes in memory as a request body in slices, so that the idle timer sees them go. */
async function* byteChunks(bytes: Uint8Array, report?: (sent: number, total: number) => void) {
  const step = 64 * 1024;
  for (let offset = 0; offset < bytes.byteLength; offset += step) {
    const chunk = bytes.subarray(offset, offset + step);
    report?.(offset + chunk.byteLength, bytes.byteLength);
    yield chunk;
  }
}

/** A response's body as text, `moved` called at each chunk. */
const readText = async (response: Response, moved: () => void): Promise<string> => {
  if (!response.body) return '';
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    moved();
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
};

type Check = (body: unknown) => boolean;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The shapes the SDK relies on in each answer (API.md): enough that a caller never meets a TypeError. */
const isTaskLike: Check = (body) =>
  isObject(body) && typeof body.task_id === 'string' && typeof body.status === 'string';
const isPresigned: Check = (body) =>
  isTaskLike(body) &&
  ((body as { upload?: unknown }).upload === undefined ||
    (isObject((body as { upload?: unknown }).upload) &&
      typeof (body as { upload: { url?: unknown } }).upload.url === 'string'));
const isTaskPage: Check = (body) =>
  isObject(body) &&
  Array.isArray(body.tasks) &&
  body.tasks.every(isTaskLike) &&
  (body.next_token === undefined || body.next_token === null || typeof body.next_token === 'string');
const isBatch: Check = (body) => isObject(body) && typeof body.batch_id === 'string' && typeof body.status === 'string';
const isFullResult: Check = (body) => isObject(body) && Array.isArray(body.documents);
const isDeliveryList: Check = (body) =>
  isObject(body) && Array.isArray(body.deliveries) && body.deliveries.every(isObject);

/** A DocprocError that fetch wrapped (a body's read error comes back as the cause of "fetch failed"). */
const ownErrorIn = (error: unknown): DocprocError | undefined => {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    if (current instanceof DocprocError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
};

export class DocprocClient {
  readonly baseUrl: string;
  readonly directUploadLimit: number;
  private readonly apiKey: string | undefined;
  private readonly retryPolicy: RetryPolicy;
  private readonly requestTimeoutMs: number;
  private readonly transferIdleTimeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(options: DocprocClientOptions = {}) {
    this.baseUrl = normaliseBaseUrl(options.baseUrl ?? (process.env.DOCPROC_URL || DEFAULT_BASE_URL));
    this.apiKey = options.apiKey ?? (process.env.DOCPROC_API_KEY || undefined);
    this.retryPolicy = { ...DEFAULT_RETRY, ...options.retry };
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    this.transferIdleTimeoutMs = options.transferIdleTimeoutMs ?? 60_000;
    this.directUploadLimit = options.directUploadLimit ?? DIRECT_UPLOAD_LIMIT;
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.sleep = options.sleep ?? abortableSleep;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  // ---- Submissions ----

  /**
   * Submits a local file (a path) or bytes. Up to `directUploadLimit` it is
   * one multipart POST; above, `upload-url` then a PUT of the file to the
   * presigned URL, streamed from disk. The task starts by itself once the
   * bytes land.
   */
  async submitFile(file: string | Uint8Array, options: SubmitFileOptions = {}): Promise<SubmittedTask> {
    const path = typeof file === 'string' ? file : undefined;
    const size = path === undefined ? (file as Uint8Array).byteLength : await this.fileSize(path);
    const filename = options.filename ?? (path === undefined ? 'document' : basename(path));
    const contentType = options.contentType ?? mediaTypeOf(filename);
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    const upload = { path, bytes: path === undefined ? (file as Uint8Array) : undefined, size, filename, contentType };
    if (size <= this.directUploadLimit) {
      try {
        return await this.uploadDirect(upload, options, idempotencyKey);
      } catch (error) {
        // A deployment with a lower direct limit than ours says so with a 413: take the large-file route.
        if (!(error instanceof DocprocError && error.status === 413)) throw error;
      }
    }
    return this.uploadPresigned(upload, options, idempotencyKey);
  }

  /** Submits an http(s) URL; the service fetches it (with its SSRF checks). */
  submitUrl(url: string, options: SubmitOptions = {}): Promise<SubmittedTask> {
    return this.submitSource(url, options);
  }

  /** Submits an object already in S3 (`s3://bucket/key`, under a location the deployment reads). */
  submitS3(uri: string, options: SubmitOptions = {}): Promise<SubmittedTask> {
    return this.submitSource(uri, options);
  }

  private async submitSource(source: string, options: SubmitOptions): Promise<SubmittedTask> {
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    const { status, body } = await this.json<Omit<SubmittedTask, 'replayed' | 'route'>>(isTaskLike, {
      method: 'POST',
      url: `${this.baseUrl}/process`,
      what: 'POST process',
      retry: 'idempotent',
      headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      body: () => JSON.stringify({ source, ...wireOptions(options) }),
      signal: options.signal,
    });
    return { ...body, replayed: status === 200, route: 'process' };
  }

  private async fileSize(path: string): Promise<number> {
    try {
      const stats = await stat(path);
      if (!stats.isFile()) throw new Error('not a regular file');
      return stats.size;
    } catch (error) {
      throw new DocprocError('FILE_NOT_READABLE', `Cannot read ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  private async uploadDirect(
    upload: { path?: string | undefined; bytes?: Uint8Array | undefined; filename: string; contentType: string },
    options: SubmitFileOptions,
    idempotencyKey: string,
  ): Promise<SubmittedTask> {
    // A file-backed Blob: the bytes are read from disk while the request is sent, not before.
    const blob = upload.path
      ? await openAsBlob(upload.path, { type: upload.contentType })
      : new Blob([upload.bytes!], { type: upload.contentType });
    const { status, body } = await this.json<Omit<SubmittedTask, 'replayed' | 'route'>>(isTaskLike, {
      method: 'POST',
      url: `${this.baseUrl}/upload`,
      what: 'POST upload',
      retry: 'idempotent',
      headers: { 'idempotency-key': idempotencyKey },
      body: () => {
        const form = new FormData();
        form.append('file', blob, upload.filename);
        for (const [key, value] of formFields(options)) form.append(key, value);
        return form;
      },
      signal: options.signal,
    });
    return { ...body, replayed: status === 200, route: 'upload' };
  }

  private async uploadPresigned(
    upload: {
      path?: string | undefined;
      bytes?: Uint8Array | undefined;
      size: number;
      filename: string;
      contentType: string;
    },
    options: SubmitFileOptions,
    idempotencyKey: string,
  ): Promise<SubmittedTask> {
    const created = await this.createUploadUrl(upload.filename, upload.size, {
      ...options,
      contentType: upload.contentType,
      idempotencyKey,
    });
    const { replayed } = created;
    // A replay of a task whose bytes already landed has no upload to make.
    if (!created.upload) return { task_id: created.task_id, status: created.status, replayed, route: 'upload-url' };
    const { url, method, headers } = created.upload;
    const report = options.onUploadProgress;
    // A body that failed (the file changed size) fails the upload, whatever storage answered: the server may have
    // answered before the client saw its own body end.
    let bodyFailure: unknown;
    const watched = async function* (chunks: AsyncGenerator<Uint8Array>) {
      try {
        yield* chunks;
      } catch (error) {
        bodyFailure = error;
        throw error;
      }
    };
    const sent = this.send({
      method: method === 'POST' ? 'POST' : 'PUT',
      url,
      what: 'PUT presigned upload',
      // The same bytes to the same key: a repeated PUT changes nothing, and the task starts once. A file
      // that changed size is not repeated: its FILE_NOT_READABLE is the SDK's own error.
      retry: 'idempotent',
      // The length is signed into the URL; a stream does not announce it by itself.
      headers: { ...headers, 'content-length': String(upload.size) },
      body: (moved) => {
        const progress = (sent: number, total: number) => {
          moved();
          report?.(sent, total);
        };
        if (upload.bytes) return watched(byteChunks(upload.bytes, progress));
        return watched(fileChunks(upload.path!, upload.size, progress));
      },
      signal: options.signal,
      // However long a large file takes, but not a stalled one.
      timeoutMs: null,
      idleTimeoutMs: this.transferIdleTimeoutMs,
      auth: false,
      errorFor: storageError,
    });
    await sent.catch((error: unknown) => {
      throw bodyFailure instanceof DocprocError ? bodyFailure : error;
    });
    if (bodyFailure instanceof DocprocError) throw bodyFailure;
    return { task_id: created.task_id, status: created.status, replayed, route: 'upload-url' };
  }

  /**
   * The first half of the large-file route on its own: a task waiting for
   * its bytes (AWAITING_UPLOAD) and where to PUT them (`upload`), for a
   * caller that uploads from elsewhere (a browser, another machine).
   * `submitFile` does both halves.
   */
  async createUploadUrl(
    filename: string,
    sizeBytes: number,
    options: SubmitOptions & { contentType?: string } = {},
  ): Promise<PresignedUpload> {
    const { status, body } = await this.json<Omit<PresignedUpload, 'replayed'>>(isPresigned, {
      method: 'POST',
      url: `${this.baseUrl}/upload-url`,
      what: 'POST upload-url',
      retry: 'idempotent',
      headers: { 'content-type': 'application/json', 'idempotency-key': options.idempotencyKey ?? randomUUID() },
      body: () =>
        JSON.stringify({
          filename,
          content_type: options.contentType ?? mediaTypeOf(filename),
          size_bytes: sizeBytes,
          ...wireOptions(options),
        }),
      signal: options.signal,
    });
    return { ...body, replayed: status === 200 };
  }

  // ---- Tasks ----

  getTask(taskId: string, options: GetTaskOptions = {}): Promise<Task> {
    const wait = options.wait ? Math.min(MAX_WAIT_SECONDS, Math.max(0, Math.round(options.wait))) : 0;
    return this.json<Task>(isTaskLike, {
      method: 'GET',
      url: `${this.taskUrl(taskId)}${wait ? `?wait=${wait}` : ''}`,
      what: `GET tasks/${taskId}`,
      retry: 'idempotent',
      signal: options.signal,
      timeoutMs: this.requestTimeoutMs + wait * 1000,
    }).then(({ body }) => body);
  }

  /**
   * Waits until the task is final (SUCCESS, FAILURE or REVOKED) and returns
   * it; a FAILURE is returned, not thrown (its `error` says why). Long polls
   * while the service honours `wait`, else polls with backoff.
   */
  async waitForTask(taskId: string, options: WaitOptions = {}): Promise<Task> {
    const { onProgress, signal } = options;
    const deadline = options.timeoutMs === undefined ? Infinity : this.now() + options.timeoutMs;
    const waitSeconds = Math.min(MAX_WAIT_SECONDS, Math.max(1, options.waitSeconds ?? (onProgress ? 2 : 20)));
    let pollMs = options.pollIntervalMs ?? 500;
    let longPoll = true;
    let seen: string | undefined;
    let task = await this.getTask(taskId, { signal });
    for (;;) {
      if (progressKey(task) !== seen) {
        seen = progressKey(task);
        onProgress?.(task);
      }
      if (isFinal(task.status)) return task;
      const left = deadline - this.now();
      if (left <= 0) {
        throw new DocprocError(
          'TIMEOUT',
          `Task ${taskId} is still ${task.status} (${task.progress}%) after ${options.timeoutMs} ms.`,
          { retryable: true },
        );
      }
      if (longPoll) {
        // Never wait past the deadline.
        const wait = Math.max(1, Math.min(waitSeconds, Math.ceil(left / 1000)));
        const started = this.now();
        task = await this.getTask(taskId, { wait, signal });
        // A service that honours `wait` holds a task that is not final for the whole wait.
        if (!isFinal(task.status) && this.now() - started < (wait * 1000) / 2) longPoll = false;
      } else {
        await this.sleep(Math.min(pollMs, left), signal);
        pollMs = Math.min(pollMs * 2, 5_000);
        task = await this.getTask(taskId, { signal });
      }
    }
  }

  /**
   * The whole result of a successful task, documents included: inline, or
   * read from `result_url` when the result was too large to inline. A FAILURE
   * throws its own code (`PDF_PASSWORD_PROTECTED`, …).
   */
  async getResult(task: string | Task, options: RequestOptions = {}): Promise<FullTaskResult> {
    let current = typeof task === 'string' ? await this.getTask(task, options) : task;
    if (current.status === 'FAILURE') {
      throw new DocprocError(current.error?.code ?? 'TASK_FAILED', current.error?.message ?? 'The task failed.', {
        retryable: current.error?.retryable ?? false,
      });
    }
    if (current.status === 'REVOKED') throw new DocprocError('TASK_REVOKED', `Task ${current.task_id} was cancelled.`);
    if (current.status !== 'SUCCESS') {
      throw new DocprocError('TASK_NOT_FINISHED', `Task ${current.task_id} is ${current.status}.`, { retryable: true });
    }
    const expires = current.result?.result_url_expires_at;
    // A link read from an old task view may have expired: a fresh view signs a new one.
    if (typeof task !== 'string' && expires && Date.parse(expires) <= this.now() + 5_000) {
      current = await this.getTask(current.task_id, options);
    }
    const result = current.result;
    if (!result) throw new DocprocError('INVALID_RESPONSE', `Task ${current.task_id} is SUCCESS without a result.`);
    if (result.documents) return result as FullTaskResult;
    if (!result.result_url) throw new DocprocError('INVALID_RESPONSE', 'The result has neither documents nor a link.');
    const { body } = await this.json<FullTaskResult>(isFullResult, {
      method: 'GET',
      url: result.result_url,
      what: 'GET result_url',
      retry: 'idempotent',
      signal: options.signal,
      auth: false,
      timeoutMs: null,
      idleTimeoutMs: this.transferIdleTimeoutMs,
    });
    return body;
  }

  /** Every page of the caller's tasks, newest first: `for await (const page of client.listTasks())`. */
  async *listTasks(options: ListTasksOptions = {}): AsyncGenerator<TaskPage, void, undefined> {
    yield* this.pages(`${this.baseUrl}/tasks`, 'GET tasks', options);
  }

  /**
   * AWAITING_UPLOAD, PENDING or STARTED → REVOKED. Repeated after a lost
   * answer, a cancel finds the task REVOKED (409 TASK_NOT_CANCELLABLE): that
   * is the earlier attempt's success, and the task is returned.
   */
  async cancel(taskId: string, options: RequestOptions = {}): Promise<Task> {
    try {
      const { body } = await this.json<Task>(isTaskLike, {
        method: 'POST',
        url: `${this.taskUrl(taskId)}/cancel`,
        what: `POST tasks/${taskId}/cancel`,
        retry: 'idempotent',
        signal: options.signal,
      });
      return body;
    } catch (error) {
      if (error instanceof DocprocError && error.code === 'TASK_NOT_CANCELLABLE' && error.attempts > 1) {
        const task = await this.getTask(taskId, options);
        if (task.status === 'REVOKED') return task;
      }
      throw error;
    }
  }

  /**
   * FAILURE or REVOKED → PENDING, as a new attempt. Not repeated after an
   * ambiguous failure (a 5xx, a lost answer): if the first attempt worked and
   * the task failed again quickly, a second would start yet another attempt.
   */
  async retry(taskId: string, options: RequestOptions = {}): Promise<Task> {
    const { body } = await this.json<Task>(isTaskLike, {
      method: 'POST',
      url: `${this.taskUrl(taskId)}/retry`,
      what: `POST tasks/${taskId}/retry`,
      retry: 'unsent',
      signal: options.signal,
    });
    return body;
  }

  /** A short-lived link to one figure of a succeeded task (`figures` on): `result.figures[].id`. */
  async getFigureLink(taskId: string, figureId: string, options: RequestOptions = {}): Promise<FigureLink> {
    const { body } = await this.json<FigureLink>(isObject, {
      method: 'GET',
      url: `${this.taskUrl(taskId)}/figures/${encodeURIComponent(figureId)}`,
      what: `GET tasks/${taskId}/figures/${figureId}`,
      retry: 'idempotent',
      signal: options.signal,
    });
    return body;
  }

  /** One figure's bytes and media type, read from its link (sent without the API key: the link is signed). */
  async getFigure(
    taskId: string,
    figureId: string,
    options: RequestOptions = {},
  ): Promise<{ mediaType: string; bytes: Uint8Array }> {
    const link = await this.getFigureLink(taskId, figureId, options);
    const response = await this.fetchImpl(link.url, {
      method: 'GET',
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!response.ok) {
      throw new DocprocError('FIGURE_FETCH_FAILED', `GET figure ${figureId} answered ${response.status}.`, {
        retryable: response.status >= 500,
      });
    }
    return { mediaType: link.media_type, bytes: new Uint8Array(await response.arrayBuffer()) };
  }

  /** The task's webhook deliveries, each with its attempts. */
  async listDeliveries(taskId: string, options: RequestOptions = {}): Promise<Delivery[]> {
    const { body } = await this.json<{ deliveries: Delivery[] }>(isDeliveryList, {
      method: 'GET',
      url: `${this.taskUrl(taskId)}/deliveries`,
      what: `GET tasks/${taskId}/deliveries`,
      retry: 'idempotent',
      signal: options.signal,
    });
    return body.deliveries;
  }

  /** Sends a delivery's event once more (same `webhook-id`, so receivers drop it if they had it). */
  async redeliver(taskId: string, deliveryId: string, options: RequestOptions = {}): Promise<Delivery> {
    const { body } = await this.json<Delivery>(isObject, {
      method: 'POST',
      url: `${this.taskUrl(taskId)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`,
      what: `POST tasks/${taskId}/deliveries/${deliveryId}/redeliver`,
      retry: 'unsent',
      signal: options.signal,
    });
    return body;
  }

  // ---- Batches ----

  /**
   * A batch of URLs and `s3://` URIs (an array, up to 1,000), or every object
   * under an `s3://bucket/prefix/` (a string). Sent with an Idempotency-Key
   * (one per call, reused by its retries), so it is repeated after an
   * ambiguous failure like any submission: the service answers a repeat with
   * the batch the first request made, never a second batch.
   */
  async createBatch(sources: readonly string[] | string, options: BatchOptions = {}): Promise<Batch> {
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    const { body } = await this.json<Batch>(isBatch, {
      method: 'POST',
      url: `${this.baseUrl}/batches`,
      what: 'POST batches',
      retry: 'idempotent',
      headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      body: () =>
        JSON.stringify({
          ...(typeof sources === 'string' ? { source: sources } : { sources }),
          ...wireOptions(options),
        }),
      signal: options.signal,
    });
    return body;
  }

  async getBatch(batchId: string, options: RequestOptions = {}): Promise<Batch> {
    const { body } = await this.json<Batch>(isBatch, {
      method: 'GET',
      url: this.batchUrl(batchId),
      what: `GET batches/${batchId}`,
      retry: 'idempotent',
      signal: options.signal,
    });
    return body;
  }

  /** The batch's tasks, a page at a time, in listing order. With `status`, a page may be short yet not the last. */
  async *listBatchTasks(batchId: string, options: ListTasksOptions = {}): AsyncGenerator<TaskPage, void, undefined> {
    yield* this.pages(`${this.batchUrl(batchId)}/tasks`, `GET batches/${batchId}/tasks`, options);
  }

  /** Revokes every task of the batch not yet final. Safe to repeat: the service answers a repeat the same. */
  async cancelBatch(batchId: string, options: RequestOptions = {}): Promise<Batch> {
    const { body } = await this.json<Batch>(isBatch, {
      method: 'POST',
      url: `${this.batchUrl(batchId)}/cancel`,
      what: `POST batches/${batchId}/cancel`,
      retry: 'idempotent',
      signal: options.signal,
    });
    return body;
  }

  /** Queues the batch's FAILURE tasks again (`retrying` says how many). Not repeated after an ambiguous failure. */
  async retryBatch(batchId: string, options: RequestOptions = {}): Promise<Batch> {
    const { body } = await this.json<Batch>(isBatch, {
      method: 'POST',
      url: `${this.batchUrl(batchId)}/retry`,
      what: `POST batches/${batchId}/retry`,
      retry: 'unsent',
      signal: options.signal,
    });
    return body;
  }

  /** Polls (with backoff) until the batch is COMPLETED, COMPLETED_WITH_ERRORS or REVOKED. */
  async waitForBatch(batchId: string, options: WaitForBatchOptions = {}): Promise<Batch> {
    const { onProgress, signal } = options;
    const deadline = options.timeoutMs === undefined ? Infinity : this.now() + options.timeoutMs;
    let pollMs = options.pollIntervalMs ?? 1_000;
    let seen: string | undefined;
    for (;;) {
      const batch = await this.getBatch(batchId, { signal });
      const key = JSON.stringify([batch.status, batch.listed, batch.counts]);
      if (key !== seen) {
        seen = key;
        onProgress?.(batch);
      }
      if (FINAL_BATCH_STATUSES.includes(batch.status)) return batch;
      const left = deadline - this.now();
      if (left <= 0) {
        throw new DocprocError('TIMEOUT', `Batch ${batchId} is still ${batch.status} after ${options.timeoutMs} ms.`, {
          retryable: true,
        });
      }
      await this.sleep(Math.min(pollMs, left), signal);
      pollMs = Math.min(pollMs * 2, 10_000);
    }
  }

  // ---- HTTP ----

  private taskUrl(taskId: string) {
    return `${this.baseUrl}/tasks/${encodeURIComponent(taskId)}`;
  }

  private batchUrl(batchId: string) {
    return `${this.baseUrl}/batches/${encodeURIComponent(batchId)}`;
  }

  private async *pages(url: string, what: string, options: ListTasksOptions) {
    let token = options.next_token;
    do {
      const query = new URLSearchParams();
      if (options.status) query.set('status', options.status);
      if (options.limit !== undefined) query.set('limit', String(options.limit));
      if (token) query.set('next_token', token);
      const search = query.size ? `?${query.toString()}` : '';
      const { body } = await this.json<TaskPage>(isTaskPage, {
        method: 'GET',
        url: `${url}${search}`,
        what,
        retry: 'idempotent',
        signal: options.signal,
      });
      yield body;
      token = body.next_token;
    } while (token);
  }

  /** A call whose answer is JSON of the shape `check` accepts: else INVALID_RESPONSE, never a TypeError later. */
  private async json<T>(check: Check, call: Call): Promise<{ status: number; body: T }> {
    const answer = await this.send(call);
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch (error) {
      throw new DocprocError('INVALID_RESPONSE', `${call.what}: HTTP ${answer.status} with a body that is not JSON.`, {
        status: answer.status,
        cause: error,
      });
    }
    if (!check(body)) {
      const snippet = answer.text.replace(/\s+/g, ' ').trim().slice(0, 200);
      throw new DocprocError(
        'INVALID_RESPONSE',
        `${call.what}: HTTP ${answer.status} with a body that is not what the API promises: ${snippet}`,
        { status: answer.status },
      );
    }
    return { status: answer.status, body: body as T };
  }

  /** One call, with its retries. Throws DocprocError, and only that. */
  private async send(call: Call): Promise<Answer> {
    const policy = this.retryPolicy;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': `docproc-sdk/${SDK_VERSION}`,
      ...(call.auth !== false && this.apiKey ? { 'x-api-key': this.apiKey } : {}),
      ...call.headers,
    };
    for (let attempt = 1; ; attempt++) {
      if (call.signal?.aborted) throw aborted(call.signal);
      const timeoutMs = call.timeoutMs === undefined ? this.requestTimeoutMs : call.timeoutMs;
      const timeout = timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs);
      const idleMs = call.idleTimeoutMs;
      const idle = idleMs === undefined ? undefined : new AbortController();
      let idleTimer: ReturnType<typeof setTimeout> | undefined;
      let idleFired = false;
      const moved = () => {
        if (!idle) return;
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => {
          idleFired = true;
          idle.abort();
        }, idleMs);
      };
      const signals = [call.signal, timeout, idle?.signal].filter(
        (signal): signal is AbortSignal => signal !== undefined,
      );
      let failure: DocprocError;
      let retryAllowed: boolean;
      let delay: number | undefined;
      try {
        moved();
        const body = call.body?.(moved);
        const response = await this.fetchImpl(call.url, {
          method: call.method,
          headers,
          ...(body === undefined ? {} : { body }),
          // Streams need it (Node's fetch refuses a stream body without it); other bodies ignore it.
          ...(body === undefined ? {} : { duplex: 'half' }),
          ...(signals.length ? { signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {}),
        });
        moved();
        const text = idle ? await readText(response, moved) : await response.text();
        if (response.ok) return { status: response.status, headers: response.headers, text };
        failure = (call.errorFor ?? ((status, head, body) => errorFromResponse(status, head, body, call.what)))(
          response.status,
          response.headers,
          text,
        );
        // By status only: a body's `retryable` says whether the same input may succeed later (a new
        // task attempt), not whether this request should be sent again now.
        retryAllowed = isRetryableStatus(response.status) && (call.retry === 'idempotent' || response.status === 429);
        const after = retryAfterMs(response.headers.get('retry-after'), this.now());
        if (after !== undefined && after > policy.maxRetryAfterMs) retryAllowed = false;
        delay = after;
      } catch (error) {
        if (call.signal?.aborted) throw aborted(call.signal);
        const own = ownErrorIn(error);
        if (idleFired && !own) {
          failure = new DocprocError('TIMEOUT', `${call.what}: no bytes moved for ${idleMs} ms.`, {
            retryable: true,
            cause: error,
          });
          retryAllowed = call.retry === 'idempotent';
        } else {
          failure = own ?? unreachable(call.what, error, timeout?.aborted ? (timeoutMs ?? undefined) : undefined);
          retryAllowed = !own && (call.retry === 'idempotent' || wasNotSent(error));
        }
      } finally {
        clearTimeout(idleTimer);
      }
      failure.attempts = attempt;
      if (!retryAllowed || attempt >= policy.maxAttempts) throw failure;
      await this.sleep(delay ?? backoffDelay(policy, attempt, this.random), call.signal);
    }
  }
}

export type { DocprocErrorOptions };
