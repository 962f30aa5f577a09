import { AppError, RunStopped } from '../errors.js';
import { claimTask, failTask, uploadSizeProblem } from '../core/lifecycle.js';
import { FanOutRequired } from '../documents/fan-out.js';
import { fanOutRun } from './run-part.js';
import {
  afterBatchChildEnded,
  figureKey,
  finishRun,
  rememberResult,
  resultKey,
  sourceOf,
  storeFigures,
  withDescriptions,
  workerLimits,
} from './run-outcome.js';
import type { DocumentInput } from '../documents/process-document.js';
import { RunProgress } from '../core/run-progress.js';
import { resultCacheKey, reuseCachedResult } from '../core/result-cache.js';
import type { ResultPointer, Task, TaskMessage } from '../core/task.js';
import type { PartQueue } from '../core/ports.js';
import { SOURCE_FETCH } from '../core/url-policy.js';
import { logger } from '../observability.js';
import type { WorkerDeps } from './worker-deps.js';

/** `done`: the message can be deleted. `later`: leave it, it comes back after its visibility timeout. */
export type RunOutcome = 'done' | 'later';

/**
 * One queue message: claim the task, read its input, process it in the
 * sandbox, store the result, complete the task. A typed failure (a bad
 * document, the soft time limit) is recorded as FAILURE; a stopped run
 * (cancelled, taken over) records nothing; anything else is thrown, so that
 * SQS delivers the message again (and, after maxReceiveCount, to the DLQ).
 */
export const runTask = async (deps: WorkerDeps, message: TaskMessage, deadline: number): Promise<RunOutcome> => {
  const { config } = deps;
  const leaseMs = config.FUNCTION_TIMEOUT_MS + config.LEASE_MARGIN_MS;
  const claim = await claimTask(deps, message, { runId: deps.newId(), leaseMs });
  if (claim.outcome === 'held') return 'later';
  if (claim.outcome === 'skipped') {
    logger.info('Nothing to do for this message', { reason: claim.reason, attempt: message.attempt });
    return 'done';
  }
  const { task, runId } = claim;
  logger.appendKeys({ attempt: task.attempts, run_id: runId });
  logger.info('Task started', { stage: 'fetching', source_type: task.source.type, queue: task.queue });
  const progress = new RunProgress(
    {
      store: deps.store,
      intervalMs: deps.progressIntervalMs,
      onWriteFailed: (error) => logger.warn('Progress write failed', { error: error as Error }),
    },
    task,
    runId,
  );
  try {
    progress.report('fetching');
    const input = await readInput(deps, task);
    await progress.flush();
    const key = resultKey(task.task_id, runId);
    // Before the bytes go to the sandbox, which may take them.
    const cacheKey = resultCacheKeyOf(deps, task, input);
    const cached =
      cacheKey && !task.options.no_cache ? await cachedResult(deps, cacheKey, key, task.task_id) : undefined;
    let result: ResultPointer;
    let stored: Uint8Array | undefined;
    if (cached) {
      result = cached;
    } else {
      const { parts } = deps;
      const processed = await deps
        .processDocument(input, task.options, {
          signal: progress.signal,
          deadline,
          onProgress: ({ stage, progress: percent }) => progress.report(stage, percent),
          limits: workerLimits(deps),
          ...(parts
            ? { fanOut: { minOcrPages: config.OCR_FAN_OUT_MIN_PAGES, pagesPerPart: config.OCR_PAGES_PER_PART } }
            : {}),
        })
        .catch((error: unknown) => {
          if (error instanceof FanOutRequired && parts) return error;
          throw error;
        });
      if (processed instanceof FanOutRequired) {
        // Many pages to recognise: read in parts on the pages queue (run-part.ts); this message is done.
        await progress.flush();
        await fanOutRun({ ...deps, parts: parts as PartQueue }, task, runId, processed.plan, { input, cacheKey });
        return 'done';
      }
      const { headline, json, figures } = await withDescriptions(deps, task, processed, deadline);
      progress.report('storing');
      await progress.flush();
      await storeFigures(deps, task.task_id, figures);
      await deps.blobs.put(config.BUCKET_NAME, key, json, 'application/json');
      stored = json;
      result = { bucket: config.BUCKET_NAME, key, json_bytes: json.byteLength, headline };
      // Before SUCCESS, so that a request made once this task is seen finished finds the entry.
      if (cacheKey) {
        const figureKeys = (figures ?? []).map((image) => figureKey(task.task_id, image.id));
        await rememberResult(deps, cacheKey, result, figureKeys);
      }
    }
    await finishRun(deps, task, runId, result, { cached: Boolean(cached), json: stored });
    return 'done';
  } catch (error) {
    if (error instanceof RunStopped) {
      logger.info('Run stopped', { reason: error.message });
      return 'done';
    }
    if (!(error instanceof AppError)) throw error;
    const failed = await failTask(deps, task, error, { guard: { runId }, stage: progress.stage });
    if (failed) await afterBatchChildEnded(deps, failed);
    logger.info('Task failed', { code: error.code, recorded: Boolean(failed) });
    return 'done';
  }
};

/** The task's key in the result cache, when the cache is on (core/result-cache.ts). */
const resultCacheKeyOf = (deps: WorkerDeps, task: Task, input: DocumentInput): string | undefined =>
  deps.resultCache && deps.config.RESULT_CACHE_TTL_SECONDS > 0
    ? resultCacheKey({
        owner: task.owner,
        input,
        options: task.options,
        limits: { maxInputBytes: deps.config.MAX_INPUT_BYTES, maxPages: deps.config.MAX_PAGES },
      })
    : undefined;

/**
 * An earlier result for the same input, copied to `key`, or undefined: the
 * task is then parsed. The cache only ever saves work, so a lookup or a copy
 * that fails is a miss (logged), never the task's failure.
 */
const cachedResult = async (
  deps: WorkerDeps,
  cacheKey: string,
  key: string,
  taskId: string,
): Promise<ResultPointer | undefined> => {
  const { resultCache } = deps;
  if (!resultCache) return undefined;
  const lookup = await reuseCachedResult({ ...deps, cache: resultCache }, cacheKey, {
    bucket: deps.config.BUCKET_NAME,
    key,
    figureKey: (figureId) => figureKey(taskId, figureId),
  }).catch((error: unknown) => {
    logger.warn('Result cache lookup failed; parsing instead', { error: error as Error });
    return { hit: false as const };
  });
  deps.metrics.resultCache(lookup.hit ? 'hit' : 'miss');
  return lookup.hit ? lookup.result : undefined;
};

/** The task's bytes, from S3 or its URL, as the sandbox takes them. */
const readInput = async (deps: WorkerDeps, task: Task): Promise<DocumentInput> => {
  const { config } = deps;
  const described = { filename: task.source.filename, source: sourceOf(task) };
  if (task.input.kind === 'url') {
    const fetched = await deps.fetchSource(task.input.url, {
      maxBytes: config.URL_FETCH_MAX_BYTES,
      timeoutMs: config.URL_FETCH_TIMEOUT_MS,
      connectTimeoutMs: Math.min(SOURCE_FETCH.connectTimeoutMs, config.URL_FETCH_TIMEOUT_MS),
      maxRedirects: SOURCE_FETCH.maxRedirects,
      allowPrivateAddresses: config.ALLOW_PRIVATE_URLS,
    });
    return { ...described, bytes: fetched.bytes, contentType: fetched.contentType };
  }
  const stored = await deps.blobs.get(task.input.bucket, task.input.key, config.MAX_INPUT_BYTES);
  const problem = uploadSizeProblem(task, stored.bytes.length);
  if (problem) throw problem;
  const declared = 'content_type' in task.source ? task.source.content_type : undefined;
  return { ...described, bytes: stored.bytes, contentType: declared ?? stored.contentType };
};
