import { failDeadLettered, failDeadLetteredPart } from '../core/lifecycle.js';
import { partMessageSchema, taskMessageSchema } from '../core/task.js';
import { logger } from '../observability.js';
import { deadLettersDeps, type DeadLettersDeps } from './maintenance-deps.js';
import { parseJson, sqsHandler } from './sqs-handler.js';

/**
 * Consumes the work queues' and the pages queue's DLQs: a message lands
 * there after maxReceiveCount deliveries failed, and its task becomes
 * FAILURE (WORKER_CRASHED or TIME_LIMIT_EXCEEDED; for a part, WORKER_CRASHED
 * naming its pages), so that nothing waits forever.
 */
export const makeDeadLettersHandler = (deps: () => DeadLettersDeps) =>
  sqsHandler(async (record) => {
    const body = parseJson(record.body);
    const part = partMessageSchema.safeParse(body);
    if (part.success) {
      const outcome = await failDeadLetteredPart(deps(), part.data);
      if (outcome.recorded)
        logger.warn('Dead-lettered part: its task marked FAILURE', { ...outcome, part: part.data.part });
      return;
    }
    const parsed = taskMessageSchema.safeParse(body);
    if (!parsed.success) {
      logger.error('Dead letter is not a task message; dropped', { message_id: record.messageId });
      return;
    }
    const { workerTimeoutMs } = deps();
    const outcome = await failDeadLettered(deps(), parsed.data, (task) => workerTimeoutMs[task.queue]);
    if (outcome.code) logger.warn('Dead-lettered task marked FAILURE', outcome);
  });

export const handler = makeDeadLettersHandler(deadLettersDeps);
