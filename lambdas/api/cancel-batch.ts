import { cancelBatch } from '../core/batches.js';
import { batchApiDeps, batchIdOf, type BatchApiDeps } from './batch-deps.js';
import { callerOf, httpHandler, json } from './http.js';

/** POST /documents/async/batches/{batch_id}/cancel: stops the listing and revokes every task not yet final. */
export const makeCancelBatchHandler = (deps: () => BatchApiDeps) =>
  httpHandler(deps, async (event) => json(202, await cancelBatch(deps(), batchIdOf(event), callerOf(event))));

export const handler = makeCancelBatchHandler(batchApiDeps);
