import { retryBatch } from '../core/batches.js';
import { batchApiDeps, batchIdOf, type BatchApiDeps } from './batch-deps.js';
import { callerOf, httpHandler, json } from './http.js';

/** POST /documents/async/batches/{batch_id}/retry: its FAILURE tasks as new attempts (REVOKED ones stay). */
export const makeRetryBatchHandler = (deps: () => BatchApiDeps) =>
  httpHandler(deps, async (event) => json(202, await retryBatch(deps(), batchIdOf(event), callerOf(event))));

export const handler = makeRetryBatchHandler(batchApiDeps);
