import { PREFIX } from '../../shared/definitions.js';
import { AppError, RunStopped } from '../errors.js';
import { claimTask, completeTask, failTask, uploadSizeProblem } from '../core/lifecycle.js';
import type { DocumentInput } from '../documents/process-document.js';
import { RunProgress } from '../core/run-progress.js';
import { cacheEntryFor, resultCacheKey, reuseCachedResult } from '../core/result-cache.js';
import type { ResultPointer, Task, TaskMessage } from '../core/task.js';
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
    const key = `${PREFIX.results}${task.task_id}/${runId}.json`;
    // Before the bytes go to the sandbox, which may take them.
    const cacheKey = resultCacheKeyOf(deps, task, input);
    const cached = cacheKey && !task.options.no_cache ? await cachedResult(deps, cacheKey, key) : undefined;
    let result: ResultPointer;
    if (cached) {
      result = cached;
    } else {
      const { headline, json } = await deps.processDocument(input, task.options, {
        signal: progress.signal,
        deadline,
        onProgress: ({ stage, progress: percent }) => progress.report(stage, percent),
        limits: { maxInputBytes: config.MAX_INPUT_BYTES, maxPages: config.MAX_PAGES },
      });
      progress.report('storing');
      await progress.flush();
      await deps.blobs.put(config.BUCKET_NAME, key, json, 'application/json');
      result = { bucket: config.BUCKET_NAME, key, json_bytes: json.byteLength, headline };
      // Before SUCCESS, so that a request made once this task is seen finished finds the entry.
      if (cacheKey) await rememberResult(deps, cacheKey, result);
    }
    const { headline } = result;
    if (await completeTask(deps, task, runId, result, { cached: Boolean(cached) })) {
      logger.info('Task succeeded', {
        format: headline.format,
        document_count: headline.document_count,
        pages: headline.stats.pages,
        bytes: headline.stats.bytes,
        ...(cached ? { cached: true } : {}),
        duration_ms: deps.clock.now().getTime() - Date.parse(task.run_started_at ?? task.updated_at),
      });
    } else {
      // Cancelled (or taken over) while storing: a REVOKED task never gets a result.
      await deps.blobs.delete(config.BUCKET_NAME, key).catch(() => undefined);
      logger.info("Result discarded: the task is no longer this run's");
    }
    return 'done';
  } catch (error) {
    if (error instanceof RunStopped) {
      logger.info('Run stopped', { reason: error.message });
      return 'done';
    }
    if (!(error instanceof AppError)) throw error;
    const failed = await failTask(deps, task, error, { guard: { runId }, stage: progress.stage });
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
const cachedResult = async (deps: WorkerDeps, cacheKey: string, key: string): Promise<ResultPointer | undefined> => {
  const { resultCache } = deps;
  if (!resultCache) return undefined;
  const lookup = await reuseCachedResult({ ...deps, cache: resultCache }, cacheKey, {
    bucket: deps.config.BUCKET_NAME,
    key,
  }).catch((error: unknown) => {
    logger.warn('Result cache lookup failed; parsing instead', { error: error as Error });
    return { hit: false as const };
  });
  deps.metrics.resultCache(lookup.hit ? 'hit' : 'miss');
  return lookup.hit ? lookup.result : undefined;
};

/** Best effort: a result the cache could not record is still the task's result. */
const rememberResult = async (deps: WorkerDeps, cacheKey: string, result: ResultPointer): Promise<void> => {
  const entry = cacheEntryFor(result, deps.clock.now(), deps.config.RESULT_CACHE_TTL_SECONDS);
  await deps.resultCache
    ?.put(cacheKey, entry)
    .catch((error: unknown) => logger.warn('Result cache entry not recorded', { error: error as Error }));
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
