/**
 * A LangChain.js document loader backed by the document service:
 *
 *   const loader = new DocprocLoader({ sources: ['report.pdf', 'https://example.com/a.html'] });
 *   const chunks = await new RecursiveCharacterTextSplitter({ chunkSize: 500 }).splitDocuments(await loader.load());
 *
 * or with the service's own splitter: `options: { split: true, chunk_size: 500 }`.
 * `@langchain/core` is a peer dependency of this entry point only; the SDK
 * itself needs none.
 */
import { BaseDocumentLoader } from '@langchain/core/document_loaders/base';
import { Document } from '@langchain/core/documents';
import { DocprocClient, DocprocError, type SubmitFileOptions, type SubmitOptions } from './client.js';
import type { ResultDocument } from './types.js';

/** A file path, an http(s) URL, an `s3://bucket/key` URI, or bytes (with a file name, which the service reports). */
export type DocprocSource = string | Uint8Array | { bytes: Uint8Array; filename: string };

export interface DocprocLoaderParams {
  /** Default: `new DocprocClient()` (DOCPROC_URL, DOCPROC_API_KEY). */
  client?: DocprocClient;
  sources: readonly DocprocSource[];
  /**
   * The service's options for every source (`split`, `chunk_size`, `output_format`, …). An
   * `idempotencyKey` here becomes one key per source (`<key>-<index>`), so running the same
   * loader again returns the same tasks instead of making new ones.
   */
  options?: SubmitOptions;
  /**
   * A source that cannot be submitted or whose task fails: `throw` (default) a
   * DocprocSourceError naming it, or `skip` it (it is kept in `loader.skipped`).
   */
  onError?: 'throw' | 'skip';
  /** Submissions, and tasks waited for, at a time (default 4). */
  concurrency?: number;
  /** Per task: give up waiting after this long (DocprocError TIMEOUT). Default: as long as it takes. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A DocprocError that says which source it is about: the loader's errors. */
export class DocprocSourceError extends DocprocError {
  constructor(
    /** The source as given (a URL without its query string, which may hold credentials). */
    readonly source: string,
    /** Its position in `sources`. */
    readonly sourceIndex: number,
    error: DocprocError,
    /** The task, when the source got as far as one. */
    readonly taskId?: string,
  ) {
    super(error.code, `${source}: ${error.message}`, {
      status: error.status,
      retryable: error.retryable,
      requestId: error.requestId,
      details: error.details,
      cause: error,
    });
    this.name = 'DocprocSourceError';
  }
}

const DEFAULT_CONCURRENCY = 4;

/** What a source is called in errors. */
export const describeSource = (source: DocprocSource, index: number): string => {
  if (typeof source === 'string') {
    if (/^https?:\/\//i.test(source)) {
      try {
        const url = new URL(source);
        return `${url.origin}${url.pathname}`;
      } catch {
        return source;
      }
    }
    return source;
  }
  return source instanceof Uint8Array ? `sources[${index}] (bytes)` : `${source.filename} (bytes)`;
};

/**
 * Loads documents through the service: submits every source, waits for its
 * task, and yields the task's documents (`page_content` as `pageContent`,
 * `metadata` as the service gives it), source after source in the order given.
 */
export class DocprocLoader extends BaseDocumentLoader {
  readonly client: DocprocClient;
  readonly sources: readonly DocprocSource[];
  readonly options: SubmitOptions;
  readonly onError: 'throw' | 'skip';
  readonly concurrency: number;
  readonly timeoutMs: number | undefined;
  readonly signal: AbortSignal | undefined;
  /** The sources left out by `onError: 'skip'` in the last load, with why. */
  skipped: DocprocSourceError[] = [];

  constructor(params: DocprocLoaderParams) {
    super();
    this.client = params.client ?? new DocprocClient();
    this.sources = [...params.sources];
    this.options = params.options ?? {};
    this.onError = params.onError ?? 'throw';
    this.concurrency = Math.max(1, Math.floor(params.concurrency ?? DEFAULT_CONCURRENCY));
    this.timeoutMs = params.timeoutMs;
    this.signal = params.signal;
  }

  async load(): Promise<Document[]> {
    const documents: Document[] = [];
    for await (const document of this.lazyLoad()) documents.push(document);
    return documents;
  }

  /**
   * The documents, source by source in order. Submissions run ahead of the
   * reader, `concurrency` at a time, so that the service works on every
   * source at once; results are fetched at most `concurrency` sources ahead
   * of the one being yielded, so memory holds that many results, whatever
   * the number of sources. Stopping early (a `break`) submits nothing more
   * and stops the waits; tasks already submitted run to their end.
   */
  async *lazyLoad(): AsyncGenerator<Document> {
    this.skipped = [];
    const count = this.sources.length;
    const stop = new AbortController();
    const signal = this.signal ? AbortSignal.any([this.signal, stop.signal]) : stop.signal;

    const submitted = this.sources.map(() => deferred<string>());
    let nextToSubmit = 0;
    const submitter = async () => {
      while (!signal.aborted && nextToSubmit < count) {
        const index = nextToSubmit++;
        try {
          submitted[index]!.resolve((await this.submit(index, signal)).task_id);
        } catch (error) {
          submitted[index]!.reject(error);
        }
      }
    };
    // Once aborted, sources not yet submitted never will be: their readers must not wait for them.
    const abandon = () => {
      const error = new DocprocError('ABORTED', 'The load was aborted.', { cause: signal.reason });
      for (const submission of submitted) submission.reject(error);
    };
    if (signal.aborted) abandon();
    else signal.addEventListener('abort', abandon, { once: true });
    for (let worker = 0; worker < Math.min(this.concurrency, count); worker++) void submitter();

    const results: Array<Promise<Document[]> | undefined> = [];
    let nextToFetch = 0;
    const fetchResult = (index: number) => {
      const result = submitted[index]!.promise.then(
        (taskId) => this.documentsOf(index, taskId, signal),
        (error: unknown) => {
          throw this.named(error, index);
        },
      );
      // Read in order later; until then a failure must not count as unhandled.
      void result.catch(() => {});
      results[index] = result;
    };

    try {
      for (let index = 0; index < count; index++) {
        while (nextToFetch < Math.min(count, index + this.concurrency)) fetchResult(nextToFetch++);
        let documents: Document[];
        try {
          documents = await results[index]!;
        } catch (error) {
          // A caller's abort ends the load whatever onError says.
          if (this.onError === 'skip' && error instanceof DocprocSourceError && !this.signal?.aborted) {
            this.skipped.push(error);
            continue;
          }
          throw error;
        } finally {
          results[index] = undefined;
        }
        yield* documents;
      }
    } finally {
      stop.abort();
    }
  }

  private submit(index: number, signal: AbortSignal) {
    const source = this.sources[index]!;
    const { idempotencyKey, ...shared } = this.options;
    const options: SubmitFileOptions = {
      ...shared,
      signal,
      ...(idempotencyKey === undefined ? {} : { idempotencyKey: `${idempotencyKey}-${index}` }),
    };
    if (typeof source === 'string') {
      if (/^https?:\/\//i.test(source)) return this.client.submitUrl(source, options);
      if (/^s3:\/\//i.test(source)) return this.client.submitS3(source, options);
      return this.client.submitFile(source, options);
    }
    if (source instanceof Uint8Array) return this.client.submitFile(source, options);
    return this.client.submitFile(source.bytes, { ...options, filename: source.filename });
  }

  private async documentsOf(index: number, taskId: string, signal: AbortSignal): Promise<Document[]> {
    try {
      const task = await this.client.waitForTask(taskId, { signal, timeoutMs: this.timeoutMs });
      // getResult throws the task's own code on FAILURE, and follows result_url for a large result.
      const result = await this.client.getResult(task, { signal });
      return result.documents.map(toDocument);
    } catch (error) {
      throw this.named(error, index, taskId);
    }
  }

  private named(error: unknown, index: number, taskId?: string): unknown {
    if (!(error instanceof DocprocError) || error instanceof DocprocSourceError) return error;
    return new DocprocSourceError(describeSource(this.sources[index]!, index), index, error, taskId);
  }
}

/** The service's document as LangChain's: the text renamed, the metadata as it is. */
export const toDocument = (document: ResultDocument): Document => {
  const chunkId = document.metadata.chunk_id;
  return new Document({
    pageContent: document.page_content,
    metadata: document.metadata,
    // The service's stable chunk id, so that a vector store can replace a chunk rather than add it twice.
    ...(typeof chunkId === 'string' ? { id: chunkId } : {}),
  });
};

const deferred = <T>() => {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  // Settled long before anyone reads it, perhaps never read (an early stop): never an unhandled rejection.
  void promise.catch(() => {});
  return { promise, resolve, reject };
};
