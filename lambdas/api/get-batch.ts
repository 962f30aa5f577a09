import { describeBatch, findBatch } from '../core/batches.js';
import { batchApiDeps, batchIdOf, type BatchApiDeps } from './batch-deps.js';
import { callerOf, httpHandler, json } from './http.js';

/** GET /documents/async/batches/{batch_id}: status and exact counts (summed over the batch's counter items). */
export const makeGetBatchHandler = (deps: () => BatchApiDeps) =>
  httpHandler(deps, async (event) => {
    const batch = await findBatch(deps(), batchIdOf(event), callerOf(event));
    return json(200, await describeBatch(deps(), batch));
  });

export const handler = makeGetBatchHandler(batchApiDeps);
