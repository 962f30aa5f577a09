import { batchJobSchema } from '../core/batch.js';
import { runBatchJob } from '../core/batches.js';
import { logger } from '../observability.js';
import { batchJobsDeps, type BatchJobsContext } from './batch-jobs-deps.js';
import { parseJson, sqsHandler } from './sqs-handler.js';

/**
 * The batch-jobs queue: each message one page of a batch's work (creating
 * its tasks, or cancelling or retrying them), queueing the next page itself.
 * A page that throws comes back (SQS) and is done again: every step of it is
 * safe to repeat.
 */
export const makeBatchJobsHandler = (context: () => BatchJobsContext) =>
  sqsHandler(async (record) => {
    const parsed = batchJobSchema.safeParse(parseJson(record.body));
    if (!parsed.success) {
      logger.error('Malformed batch job; dropped', { body: record.body.slice(0, 256) });
      return;
    }
    const { deps, policy } = context();
    const outcome = await runBatchJob(deps, policy, parsed.data);
    logger.info('Batch job', {
      batch_id: parsed.data.batch_id,
      kind: parsed.data.kind,
      page: parsed.data.page,
      outcome,
    });
  });

export const handler = makeBatchJobsHandler(batchJobsDeps);
