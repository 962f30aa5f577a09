import { batchJobQueue, batchStore } from '../adapters/index.js';
import { once } from '../cold-start.js';
import { AppError } from '../errors.js';
import type { BatchDeps } from '../core/batches.js';
import { TASK_ID_PATTERN } from '../core/task.js';
import { buildApiDeps, type ApiDeps } from './deps.js';
import type { ApiEvent } from './http.js';

/** The batch routes: the API's dependencies, the batches, and the queue of their pages. */
export type BatchApiDeps = ApiDeps & Pick<BatchDeps, 'batches' | 'batchJobs'>;

export const buildBatchApiDeps = (env: NodeJS.ProcessEnv): BatchApiDeps => {
  const deps = buildApiDeps(env);
  return {
    ...deps,
    batches: batchStore(deps.config.TABLE_NAME),
    batchJobs: batchJobQueue(deps.config.BATCH_QUEUE_URL),
  };
};

export const batchApiDeps = once(() => buildBatchApiDeps(process.env));

/** The `{batch_id}` path parameter; anything that is not an id is a batch that does not exist. */
export const batchIdOf = (event: ApiEvent): string => {
  const id = event.pathParameters?.batch_id ?? '';
  if (!TASK_ID_PATTERN.test(id)) throw new AppError('BATCH_NOT_FOUND', `No batch with id ${id.slice(0, 64)}.`);
  return id.toLowerCase();
};
