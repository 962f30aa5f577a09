import { failDeadLettered } from '../core/lifecycle.js';
import { taskMessageSchema } from '../core/task.js';
import { logger } from '../observability.js';
import { deadLettersDeps, type DeadLettersDeps } from './maintenance-deps.js';
import { parseJson, sqsHandler } from './sqs-handler.js';

/**
 * Consumes both work queues' DLQs: a message lands there after
 * maxReceiveCount deliveries failed, and its task becomes FAILURE
 * (WORKER_CRASHED or TIME_LIMIT_EXCEEDED), so that nothing waits forever.
 */
export const makeDeadLettersHandler = (deps: () => DeadLettersDeps) =>
  sqsHandler(async (record) => {
    const parsed = taskMessageSchema.safeParse(parseJson(record.body));
    if (!parsed.success) {
      logger.error('Dead letter is not a task message; dropped', { message_id: record.messageId });
      return;
    }
    const { workerTimeoutMs } = deps();
    const outcome = await failDeadLettered(deps(), parsed.data, (task) => workerTimeoutMs[task.queue]);
    if (outcome.code) logger.warn('Dead-lettered task marked FAILURE', outcome);
  });

export const handler = makeDeadLettersHandler(deadLettersDeps);
