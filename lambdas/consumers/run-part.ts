import { PREFIX } from '../../shared/definitions.js';
import { AppError } from '../errors.js';
import { failTask } from '../core/lifecycle.js';
import type { PartQueue } from '../core/ports.js';
import { partKey, type PartMessage, type Task, type TaskFanOut } from '../core/task.js';
import { fanOutView } from '../core/task-views.js';
import type { FanOutPlan } from '../documents/fan-out.js';
import { DEFAULT_LIMITS } from '../documents/limits.js';
import type { DocumentInput } from '../documents/process-document.js';
import { percentFor } from '../documents/progress.js';
import { logger } from '../observability.js';
import {
  afterBatchChildEnded,
  finishRun,
  rememberResult,
  resultKey,
  sourceOf,
  storeFigures,
  withDescriptions,
  workerLimits,
  figureKey,
} from './run-outcome.js';
import type { WorkerDeps } from './worker-deps.js';

/**
 * Page fan-out, the task side (the reading side is documents/fan-out.ts): a
 * run whose document has many pages to recognise records the plan on its
 * task and sends one message per part to the pages queue. Each part is read
 * by its own invocation (the page worker), stored under the run's results,
 * and recorded on the task once; the invocation that records the last part
 * puts the parts together (in the sandbox) and completes the task, as a run
 * in one piece would. A cancelled task's remaining parts find it REVOKED and
 * do nothing; a part that fails typed fails the task naming its pages; one
 * that fails untyped is delivered again and, after the queue's
 * maxReceiveCount, dead-lettered, which fails the task naming its pages.
 */

/** Where part `index` of a run is stored until the result is put together. */
export const partResultKey = (taskId: string, runId: string, index: number): string =>
  `${PREFIX.results}${taskId}/${runId}/part-${index}.json`;

/** Where the bytes of a URL's document are kept for its parts (a URL is fetched once). */
const stagedInputKey = (taskId: string, runId: string): string => `${PREFIX.results}${taskId}/${runId}/input`;

const leaseUntil = (deps: WorkerDeps): string =>
  new Date(deps.clock.now().getTime() + deps.config.FUNCTION_TIMEOUT_MS + deps.config.LEASE_MARGIN_MS).toISOString();

/**
 * The run's document is read in parts: its input where the parts can read
 * it, the plan on the task (with a lease the parts keep alive), one message
 * per part. A run that no longer holds the task (cancelled) sends nothing.
 */
export const fanOutRun = async (
  deps: WorkerDeps & { parts: PartQueue },
  task: Task,
  runId: string,
  plan: FanOutPlan,
  { input, cacheKey }: { input: DocumentInput; cacheKey?: string | undefined },
): Promise<void> => {
  const { config } = deps;
  let source: TaskFanOut['input'];
  if (task.input.kind === 's3') {
    source = { bucket: task.input.bucket, key: task.input.key, content_type: input.contentType };
  } else {
    const key = stagedInputKey(task.task_id, runId);
    await deps.blobs.put(config.BUCKET_NAME, key, input.bytes, input.contentType ?? 'application/octet-stream');
    source = { bucket: config.BUCKET_NAME, key, content_type: input.contentType };
  }
  const fanOut: TaskFanOut = {
    parts: plan.parts,
    ocr_pages: plan.ocrPagesPerPart,
    done: {},
    input: source,
    ...(cacheKey ? { cache_key: cacheKey } : {}),
  };
  if (!(await deps.store.startFanOut(task.task_id, runId, fanOut, leaseUntil(deps)))) {
    logger.info("Fan-out dropped: the task is no longer this run's");
    return;
  }
  await deps.parts.sendParts(
    plan.parts.map((_, part) => ({
      v: 1 as const,
      kind: 'part' as const,
      task_id: task.task_id,
      attempt: task.attempts,
      run_id: runId,
      part,
    })),
  );
  await deps.store.updateProgress(task.task_id, runId, percentFor('parsing', 0), 'parsing');
  logger.info('Task fanned out', { parts: plan.parts.length, ocr_pages: plan.ocrPages, total_pages: plan.totalPages });
};

/** Whether the message's part still belongs to a run that holds its task. */
const stillRunning = (task: Task | undefined, message: PartMessage): task is Task & { fan_out: TaskFanOut } =>
  task?.status === 'STARTED' &&
  task.run_id === message.run_id &&
  task.attempts === message.attempt &&
  task.fan_out !== undefined;

const allDone = (fanOut: TaskFanOut): boolean => fanOut.parts.every((_, index) => partKey(index) in fanOut.done);

/** One message of the pages queue: read the part (unless it was read already), record it, and assemble after the last. */
export const runPart = async (deps: WorkerDeps, message: PartMessage, deadline: number): Promise<void> => {
  const { config } = deps;
  let task = await deps.store.get(message.task_id);
  if (!stillRunning(task, message)) {
    logger.info('Nothing to do for this part', { part: message.part, status: task?.status ?? 'gone' });
    return;
  }
  const pages = task.fan_out.parts[message.part];
  if (pages === undefined) {
    logger.error('Dropping a part the plan does not have', { part: message.part });
    return;
  }
  logger.appendKeys({ run_id: message.run_id, part: message.part, pages });
  if (!(partKey(message.part) in task.fan_out.done)) {
    const { input: stored } = task.fan_out;
    let json: Uint8Array;
    try {
      // Gone since the plan (an s3:// source deleted, say): SOURCE_NOT_FOUND, typed, like a damaged page.
      const object = await deps.blobs.get(stored.bucket, stored.key, config.MAX_INPUT_BYTES);
      const input: DocumentInput = {
        filename: task.source.filename,
        source: sourceOf(task),
        bytes: object.bytes,
        contentType: stored.content_type ?? object.contentType,
      };
      json = await deps.readPart(input, { ...task.options, pages }, { deadline, limits: workerLimits(deps) });
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      const failed = await failTask(deps, task, new AppError(error.code, `Pages ${pages}: ${error.message}`), {
        guard: { runId: message.run_id },
        stage: 'parsing',
      });
      logger.info('Task failed in a part', { code: error.code, recorded: Boolean(failed) });
      return;
    }
    await deps.blobs.put(
      config.BUCKET_NAME,
      partResultKey(task.task_id, message.run_id, message.part),
      json,
      'application/json',
    );
    const ocrPages = task.fan_out.ocr_pages[message.part] ?? 0;
    const recorded = await deps.store.recordPart(
      task.task_id,
      message.run_id,
      message.part,
      ocrPages,
      leaseUntil(deps),
    );
    task = recorded ?? (await deps.store.get(task.task_id));
    if (!stillRunning(task, message)) {
      logger.info("Part discarded: the task is no longer this run's");
      return;
    }
    if (recorded) {
      const { ocr_pages: total, ocr_pages_done: done } = fanOutView(task.fan_out);
      await deps.store.updateProgress(task.task_id, message.run_id, percentFor('parsing', done / total), 'parsing');
    }
  }
  // The last part recorded (or, after a crash, any later delivery of one) puts the result together.
  if (allDone(task.fan_out)) await assemble(deps, task, message.run_id, deadline);
};

/** The parts, read back in order, put together in the sandbox and stored as the run's result; then SUCCESS. */
const assemble = async (
  deps: WorkerDeps,
  task: Task & { fan_out: TaskFanOut },
  runId: string,
  deadline: number,
): Promise<void> => {
  const { config } = deps;
  const fanOut = task.fan_out;
  await deps.store.updateProgress(task.task_id, runId, percentFor('splitting', 0), 'splitting');
  const keys = fanOut.parts.map((_, index) => partResultKey(task.task_id, runId, index));
  const parts = await Promise.all(
    keys.map(async (key) => (await deps.blobs.get(config.BUCKET_NAME, key, DEFAULT_LIMITS.maxResultBytes)).bytes),
  );
  let serialized;
  try {
    serialized = await withDescriptions(
      deps,
      task,
      await deps.assembleParts(parts, task.options, { deadline, limits: workerLimits(deps) }),
      deadline,
    );
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    const failed = await failTask(deps, task, error, { guard: { runId }, stage: 'splitting' });
    if (failed) await afterBatchChildEnded(deps, failed);
    logger.info('Task failed putting its parts together', { code: error.code, recorded: Boolean(failed) });
    return;
  }
  await deps.store.updateProgress(task.task_id, runId, percentFor('storing', 0), 'storing');
  const key = resultKey(task.task_id, runId);
  await storeFigures(deps, task.task_id, serialized.figures);
  await deps.blobs.put(config.BUCKET_NAME, key, serialized.json, 'application/json');
  const result = {
    bucket: config.BUCKET_NAME,
    key,
    json_bytes: serialized.json.byteLength,
    headline: serialized.headline,
  };
  if (fanOut.cache_key) {
    const figureKeys = (serialized.figures ?? []).map((image) => figureKey(task.task_id, image.id));
    await rememberResult(deps, fanOut.cache_key, result, figureKeys);
  }
  await finishRun(deps, task, runId, result, { json: serialized.json });
  // The parts and a URL's copy are not needed once the result is stored (the bucket's lifecycle takes what is missed).
  const leftovers = [...keys, ...(task.input.kind === 'url' ? [stagedInputKey(task.task_id, runId)] : [])];
  await Promise.all(
    leftovers.map((leftover) => deps.blobs.delete(config.BUCKET_NAME, leftover).catch(() => undefined)),
  );
};
