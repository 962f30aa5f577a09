import type { S3Event } from 'aws-lambda';
import { AppError, toTaskError } from '../core/errors.js';
import { TASK_ID_PATTERN, taskMessage, type Task } from '../core/task.js';
import { PREFIX } from '../../shared/definitions.js';
import { logger, recordFailed } from '../observability.js';
import { parseJson, sqsHandler } from './sqs-handler.js';
import { uploadEventsDeps, type UploadEventsDeps } from './maintenance-deps.js';

const taskIdFromKey = (key: string): string | undefined => {
  const match = new RegExp(`^${PREFIX.uploads}([^/]+)/input$`).exec(decodeURIComponent(key.replace(/\+/g, ' ')));
  return match?.[1] && TASK_ID_PATTERN.test(match[1]) ? match[1] : undefined;
};

/**
 * AWAITING_UPLOAD → PENDING once the object is there, then queue the task.
 * Safe to repeat (S3 notifications and this function's retries may deliver
 * the same upload twice): a second call finds the task PENDING and only
 * queues it again, which the worker's claim makes harmless.
 */
export const startUploadedTask = async (deps: UploadEventsDeps, task: Task, objectSize: number): Promise<void> => {
  const { store, queue, clock } = deps;
  if (task.status === 'AWAITING_UPLOAD') {
    if (task.source.type === 'presigned' && objectSize > task.source.size_bytes) {
      const error = new AppError(
        'UPLOAD_SIZE_MISMATCH',
        `The upload is ${objectSize} bytes but ${task.source.size_bytes} were announced.`,
      );
      const failed = await store.transition(task, 'fail', {
        error: toTaskError(error),
        finished_at: clock.now().toISOString(),
      });
      if (failed) recordFailed(error.code);
      return;
    }
    const started = await store.transition(task, 'uploadArrived', { stage: 'queued' });
    if (!started) return;
    await queue.send(started.queue, taskMessage(started));
    return;
  }
  // A repeat of this event after the status change but before the message went out.
  if (task.status === 'PENDING' && task.attempts === 1) await queue.send(task.queue, taskMessage(task));
};

/** S3 ObjectCreated notifications for presigned uploads, delivered through SQS. */
export const makeUploadEventsHandler = (deps: () => UploadEventsDeps) => {
  return sqsHandler(async (record) => {
    const notification = parseJson(record.body) as Partial<S3Event> | undefined;
    for (const entry of notification?.Records ?? []) {
      if (!entry.eventName?.startsWith('ObjectCreated:')) continue;
      const taskId = taskIdFromKey(entry.s3.object.key);
      if (!taskId) {
        logger.warn('Object outside the upload layout; ignored', { key: entry.s3.object.key });
        continue;
      }
      const task = await deps().store.get(taskId);
      if (!task) continue;
      logger.appendKeys({ task_id: taskId });
      await startUploadedTask(deps(), task, entry.s3.object.size);
      logger.info('Upload arrived');
      logger.removeKeys(['task_id']);
    }
  });
};

export const handler = makeUploadEventsHandler(uploadEventsDeps);
