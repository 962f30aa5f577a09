import { PREFIX } from '../../shared/definitions.js';
import { DEFAULT_LIMITS } from '../documents/limits.js';
import type { FigureImage } from '../documents/figures/figures.js';
import type { SerializedResult } from '../documents/document.js';
import { describeFigures } from '../figure-descriptions/describe.js';
import { completeTask } from '../core/lifecycle.js';
import { deliverToKnowledgeBase, withdrawDelivery } from '../knowledge-base/deliver.js';
import { ingestIfBatchEnded } from '../knowledge-base/ingestion.js';
import { cacheEntryFor } from '../core/result-cache.js';
import type { ResultPointer, Task } from '../core/task.js';
import { logger } from '../observability.js';
import type { WorkerDeps } from './worker-deps.js';

/** What a run ends with, whether it read its document at once (run-task.ts) or in parts (run-part.ts). */

/** What a worker's documents may be: the deployment's bounds on input size and pages. */
export const workerLimits = (deps: WorkerDeps) => ({
  maxInputBytes: deps.config.MAX_INPUT_BYTES,
  maxPages: deps.config.MAX_PAGES,
});

/** Where a run's result is stored. */
export const resultKey = (taskId: string, runId: string): string => `${PREFIX.results}${taskId}/${runId}.json`;

/**
 * Where a task's figure is stored (option `figures`): under the task, not the
 * run, since a figure's id is its digest: a retry writes the same object, and
 * the figure route needs no run id. Removed with the results (the bucket's lifecycle).
 */
export const figureKey = (taskId: string, figureId: string): string => `${PREFIX.results}${taskId}/figures/${figureId}`;

/** Time kept after the last description starts, for the call itself and the result's storing. */
const DESCRIBE_MARGIN_MS = 20_000;

/** `figures=describe`: the read result's figures described by the deployment's model (figure-descriptions/). */
export const withDescriptions = (
  deps: WorkerDeps,
  task: Task,
  serialized: SerializedResult,
  deadline: number,
): Promise<SerializedResult> =>
  task.options.figures === 'describe'
    ? describeFigures(deps.vision, serialized, {
        maxFigures: deps.config.FIGURE_DESCRIPTIONS_PER_TASK,
        // Calls start only while there is time left to store the result.
        deadline: deadline - DESCRIBE_MARGIN_MS,
        onError: (figureId, error) =>
          logger.warn('Figure not described', { figure_id: figureId, error: error as Error }),
      })
    : Promise.resolve(serialized);

/** Most figures written at once. */
const FIGURE_WRITES = 8;

/** The result's figures written beside it, before the result itself: a task seen finished finds every one. */
export const storeFigures = async (
  deps: WorkerDeps,
  taskId: string,
  figures: readonly FigureImage[] | undefined,
): Promise<void> => {
  const queue = [...(figures ?? [])];
  const writer = async () => {
    for (let image = queue.shift(); image; image = queue.shift()) {
      await deps.blobs.put(deps.config.BUCKET_NAME, figureKey(taskId, image.id), image.bytes, image.media_type);
    }
  };
  await Promise.all(Array.from({ length: Math.min(FIGURE_WRITES, queue.length) }, writer));
};

/**
 * SUCCESS with the stored result, if the run still holds the task; else the
 * stored result is removed (a REVOKED task never gets one), unless the task
 * already has it (another delivery of a fanned-out run's last part finished
 * first with the same result). With a `destination`, the document is
 * written there first (a refusal fails the task: DESTINATION_FAILED).
 */
export const finishRun = async (
  deps: WorkerDeps,
  task: Task,
  runId: string,
  stored: ResultPointer,
  { cached = false, json }: { cached?: boolean; json?: Uint8Array | undefined } = {},
): Promise<void> => {
  const delivered = await deliverToKnowledgeBase(
    { ...deps, destinations: deps.config.KB_DESTINATIONS, maxResultBytes: DEFAULT_LIMITS.maxResultBytes },
    task,
    sourceOf(task),
    stored,
    json,
  );
  const result: ResultPointer = delivered ? { ...stored, delivered } : stored;
  const { headline } = result;
  if (await completeTask(deps, task, runId, result, { cached })) {
    logger.info('Task succeeded', {
      format: headline.format,
      document_count: headline.document_count,
      pages: headline.stats.pages,
      bytes: headline.stats.bytes,
      ...(cached ? { cached: true } : {}),
      ...(task.fan_out ? { parts: task.fan_out.parts.length } : {}),
      duration_ms: deps.clock.now().getTime() - Date.parse(task.run_started_at ?? task.updated_at),
      ...(delivered ? { destination: delivered.destination } : {}),
    });
    await afterBatchChildEnded(deps, task);
    return;
  }
  const current = await deps.store.get(task.task_id);
  if (current?.result?.key === result.key) return;
  // Cancelled (or taken over) while storing: a REVOKED task never gets a result, nor a document in a knowledge base.
  await deps.blobs.delete(result.bucket, result.key).catch(() => undefined);
  if (delivered && !current?.result?.delivered) await withdrawDelivery(deps.blobs, delivered);
  logger.info("Result discarded: the task is no longer this run's");
};

/**
 * A batch child with a knowledge-base destination has ended (succeeded, or
 * failed in its run): if the batch ended with it, its data source's sync is
 * started (knowledge-base/ingestion.ts). Best effort: never the task's failure.
 */
export const afterBatchChildEnded = async (deps: WorkerDeps, task: Task): Promise<void> => {
  const { ingestion, batches } = deps;
  if (!task.batch || task.options.destination === undefined || !ingestion || !batches) return;
  await ingestIfBatchEnded(
    {
      ...deps,
      batches,
      ingestion,
      destinations: deps.config.KB_DESTINATIONS,
      log: (message, detail) => logger.info(message, detail),
    },
    task,
  ).catch((error: unknown) => logger.warn('Ingestion check failed', { error: error as Error }));
};

/** Best effort: a result the cache could not record is still the task's result. */
export const rememberResult = async (
  deps: WorkerDeps,
  cacheKey: string,
  result: ResultPointer,
  figureKeys: readonly string[] = [],
): Promise<void> => {
  const entry = cacheEntryFor(result, deps.clock.now(), deps.config.RESULT_CACHE_TTL_SECONDS, figureKeys);
  await deps.resultCache
    ?.put(cacheKey, entry)
    .catch((error: unknown) => logger.warn('Result cache entry not recorded', { error: error as Error }));
};

/** `metadata.source`: the file name, URL or s3 URI the task was given. */
export const sourceOf = (task: Task): string => {
  switch (task.source.type) {
    case 'url':
      return task.source.url;
    case 's3':
      return task.source.uri;
    default:
      return task.source.filename;
  }
};
