import { ERROR_CATALOGUE } from '../core/errors.js';
import { isTerminal, taskMessageSchema, type Task } from '../core/task.js';
import { logger, recordFailed } from '../observability.js';
import { parseJson, sqsHandler } from './sqs-handler.js';
import { deadLettersDeps, type DeadLettersDeps } from './maintenance-deps.js';

/**
 * A last run that kept its row updated until close to the function timeout
 * was most likely killed by the timeout; otherwise the worker crashed (out of
 * memory, a bug) on every delivery. Judged from the last run's start, not the
 * first's: deliveries are a visibility timeout apart.
 */
export const failureCodeFor = (task: Task, functionTimeoutMs: number) => {
  const runStartedAt = task.run_started_at ?? task.started_at;
  if (task.status === 'STARTED' && runStartedAt) {
    const ranFor = Date.parse(task.updated_at) - Date.parse(runStartedAt);
    if (ranFor >= functionTimeoutMs * 0.8) return 'TIME_LIMIT_EXCEEDED' as const;
  }
  return 'WORKER_CRASHED' as const;
};

const MESSAGES = {
  TIME_LIMIT_EXCEEDED:
    'The worker was stopped by its time limit on every attempt; try the document on its own or split it.',
  WORKER_CRASHED:
    'The worker failed on every delivery of this task (it may have run out of memory); the cause is in the worker logs.',
};

/**
 * Consumes both DLQs: a message lands here after maxReceiveCount deliveries
 * failed, and its task becomes FAILURE, so that nothing waits forever.
 */
export const makeDeadLettersHandler = (deps: () => DeadLettersDeps) => {
  return sqsHandler(async (record) => {
    const parsed = taskMessageSchema.safeParse(parseJson(record.body));
    if (!parsed.success) {
      logger.error('Dead letter is not a task message; dropped', { message_id: record.messageId });
      return;
    }
    const { store, clock, workerTimeoutMs } = deps();
    const task = await store.get(parsed.data.task_id);
    if (!task || isTerminal(task.status) || task.attempts !== parsed.data.attempt) return;
    const code = failureCodeFor(task, workerTimeoutMs[task.queue]);
    const failed = await store.transition(
      task,
      'fail',
      {
        error: { code, message: MESSAGES[code], retryable: ERROR_CATALOGUE[code].retryable },
        finished_at: clock.now().toISOString(),
        lease_expires_at: undefined,
      },
      { attempt: task.attempts },
    );
    if (failed) recordFailed(code);
    logger.warn('Dead-lettered task marked FAILURE', { task_id: task.task_id, code, recorded: Boolean(failed) });
  });
};

export const handler = makeDeadLettersHandler(deadLettersDeps);
