import { AppError, toTaskError } from '../core/errors.js';
import { percentFor, type ProgressUpdate, type Stage } from '../core/progress.js';
import { isTerminal, type Task, type TaskMessage } from '../core/task.js';
import { PREFIX } from '../../shared/definitions.js';
import { logger, recordFailed, recordStarted, recordSucceeded } from '../observability.js';
import type { WorkerDeps } from './worker-deps.js';

/** `done`: the message can be deleted. `retry`: leave it to come back later. */
export type RunOutcome = 'done' | 'retry';

/**
 * Writes progress to the task row, at most once per `progressIntervalMs`
 * (the claim counts as a write, so a task done within the interval costs no
 * progress writes at all), never lower than what the row already shows. A
 * write the store refuses means the task was cancelled or another run took it
 * over: the run is then aborted at its next checkpoint. (Without a write, the
 * guarded final transition still keeps a cancelled task from a result.)
 */
class ProgressWriter {
  private last: ProgressUpdate;
  private lastWriteAt = Date.now();
  private chain: Promise<void> = Promise.resolve();
  readonly controller = new AbortController();

  constructor(
    private readonly deps: WorkerDeps,
    private readonly task: Task,
    private readonly runId: string,
  ) {
    this.last = { stage: task.stage, progress: task.progress };
  }

  /** The stage the run last reported, written or not (a failure is recorded at this stage). */
  stage: Stage = 'fetching';

  report = (stage: Stage, progress = percentFor(stage)): void => {
    this.stage = stage;
    const update = { stage, progress: Math.max(progress, this.last.progress) };
    const now = Date.now();
    const changed = update.stage !== this.last.stage || update.progress !== this.last.progress;
    if (!changed || now - this.lastWriteAt < this.deps.progressIntervalMs) return;
    this.last = update;
    this.lastWriteAt = now;
    this.chain = this.chain.then(() => this.write(update));
  };

  /** Waits for queued writes, so a cancellation seen by them is noticed. */
  async flush(): Promise<void> {
    await this.chain;
    this.controller.signal.throwIfAborted();
  }

  private async write({ stage, progress }: ProgressUpdate): Promise<void> {
    if (this.controller.signal.aborted) return;
    const written = await this.deps.store
      .updateProgress(this.task.task_id, this.runId, progress, stage)
      .catch((error: unknown) => {
        logger.warn('Progress write failed', { error: error as Error });
        return true; // a lost progress write is not worth failing the task
      });
    if (written) return;
    const current = await this.deps.store.get(this.task.task_id);
    if (current?.status === 'REVOKED') {
      this.controller.abort(new AppError('TASK_REVOKED', 'The task was cancelled.'));
    } else if (current?.run_id !== this.runId || current.status !== 'STARTED') {
      this.controller.abort(new AppError('TASK_REVOKED', 'Another run took over the task.'));
    }
  }
}

const readInput = async (
  deps: WorkerDeps,
  task: Task,
): Promise<{ bytes: Uint8Array; contentType?: string | undefined }> => {
  const { config } = deps;
  if (task.input.kind === 'url') {
    const fetched = await deps.fetchSource(task.input.url, {
      maxBytes: config.URL_FETCH_MAX_BYTES,
      timeoutMs: config.URL_FETCH_TIMEOUT_MS,
      connectTimeoutMs: Math.min(10_000, config.URL_FETCH_TIMEOUT_MS),
      maxRedirects: 5,
      allowPrivateAddresses: config.ALLOW_PRIVATE_URLS,
    });
    return { bytes: fetched.bytes, contentType: fetched.contentType };
  }
  const stored = await deps.blobs.get(task.input.bucket, task.input.key, config.MAX_INPUT_BYTES);
  if (task.source.type === 'presigned' && stored.bytes.length > task.source.size_bytes) {
    throw new AppError(
      'UPLOAD_SIZE_MISMATCH',
      `The upload is ${stored.bytes.length} bytes but ${task.source.size_bytes} were announced.`,
    );
  }
  const declared = 'content_type' in task.source ? task.source.content_type : undefined;
  return { bytes: stored.bytes, contentType: declared ?? stored.contentType };
};

/**
 * One queue message: claim the task, read its input, process it, store the
 * result, record the outcome. Permanent failures (a bad document, the soft
 * time limit) become FAILURE; anything else is thrown so that SQS delivers
 * the message again (and, after maxReceiveCount, to the DLQ).
 */
export const runTask = async (deps: WorkerDeps, message: TaskMessage, deadline: number): Promise<RunOutcome> => {
  const { store, blobs, clock, config } = deps;
  const task = await store.get(message.task_id);
  if (!task) {
    logger.warn('Message for a task that does not exist', { task_id: message.task_id });
    return 'done';
  }
  if (message.attempt !== task.attempts || isTerminal(task.status) || task.status === 'AWAITING_UPLOAD') {
    logger.info('Nothing to do for this message', { status: task.status, attempt: message.attempt });
    return 'done';
  }

  const runId = deps.newId();
  const now = clock.now();
  const claimed = await store.transition(
    task,
    'start',
    {
      run_id: runId,
      lease_expires_at: new Date(now.getTime() + config.FUNCTION_TIMEOUT_MS + config.LEASE_MARGIN_MS).toISOString(),
      started_at: task.started_at ?? now.toISOString(),
      run_started_at: now.toISOString(),
      stage: 'fetching',
    },
    { attempt: message.attempt, leaseExpiredBefore: now.toISOString() },
  );
  if (!claimed) {
    const current = await store.get(task.task_id);
    // Another run holds a live lease: let the message come back after it ends or expires.
    return current?.status === 'STARTED' && current.attempts === message.attempt ? 'retry' : 'done';
  }
  logger.appendKeys({ attempt: claimed.attempts, run_id: runId });
  // The row's last change before the claim is when the task was queued (created, uploaded or retried).
  recordStarted(now.getTime() - Date.parse(task.updated_at));
  logger.info('Task started', { stage: 'fetching', source_type: claimed.source.type, queue: claimed.queue });
  const progress = new ProgressWriter(deps, claimed, runId);
  let resultKey: string | undefined;
  try {
    progress.report('fetching');
    const input = await readInput(deps, claimed);
    await progress.flush();
    const { headline: result, json } = await deps.processDocument(
      {
        bytes: input.bytes,
        filename: claimed.source.filename,
        contentType: input.contentType,
        source: sourceOf(claimed),
      },
      claimed.options,
      {
        signal: progress.controller.signal,
        deadline,
        onProgress: ({ stage, progress: percent }) => progress.report(stage, percent),
        limits: { maxInputBytes: config.MAX_INPUT_BYTES, maxPages: config.MAX_PAGES },
      },
    );
    progress.report('storing');
    await progress.flush();
    resultKey = `${PREFIX.results}${claimed.task_id}/${runId}.json`;
    await blobs.put(config.BUCKET_NAME, resultKey, json, 'application/json');
    const finished = await store.transition(
      claimed,
      'succeed',
      {
        progress: 100,
        stage: 'done',
        finished_at: clock.now().toISOString(),
        lease_expires_at: undefined,
        result: {
          bucket: config.BUCKET_NAME,
          key: resultKey,
          json_bytes: json.byteLength,
          headline: result,
        },
      },
      { runId },
    );
    if (finished) {
      const durationMs = clock.now().getTime() - now.getTime();
      recordSucceeded(result, durationMs);
      logger.info('Task succeeded', {
        format: result.format,
        document_count: result.document_count,
        pages: result.stats.pages,
        bytes: result.stats.bytes,
        duration_ms: durationMs,
      });
    } else {
      // Cancelled (or taken over) while storing: a REVOKED task never gets a result.
      await blobs.delete(config.BUCKET_NAME, resultKey).catch(() => undefined);
      logger.info("Result discarded: the task is no longer this run's");
    }
    return 'done';
  } catch (error) {
    if (error instanceof AppError && error.code === 'TASK_REVOKED') {
      logger.info('Run stopped', { reason: error.message });
      return 'done';
    }
    if (error instanceof AppError) {
      const failed = await store.transition(
        claimed,
        'fail',
        {
          error: toTaskError(error),
          stage: progress.stage,
          finished_at: clock.now().toISOString(),
          lease_expires_at: undefined,
        },
        { runId },
      );
      if (failed) recordFailed(error.code);
      logger.info('Task failed', { code: error.code, recorded: Boolean(failed) });
      return 'done';
    }
    throw error;
  }
};

const sourceOf = (task: Task): string => {
  switch (task.source.type) {
    case 'url':
      return task.source.url;
    case 's3':
      return task.source.uri;
    default:
      return task.source.filename;
  }
};
