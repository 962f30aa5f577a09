import type { S3Event } from 'aws-lambda';
import { PREFIX } from '../../shared/definitions.js';
import { uploadArrived } from '../core/lifecycle.js';
import { TASK_ID_PATTERN } from '../core/task.js';
import { logger } from '../observability.js';
import { uploadEventsDeps, type UploadEventsDeps } from './maintenance-deps.js';
import { parseJson, sqsHandler } from './sqs-handler.js';

const taskIdFromKey = (key: string): string | undefined => {
  const match = new RegExp(`^${PREFIX.uploads}([^/]+)/input$`).exec(decodeURIComponent(key.replace(/\+/g, ' ')));
  return match?.[1] && TASK_ID_PATTERN.test(match[1]) ? match[1] : undefined;
};

/** S3 ObjectCreated notifications for presigned uploads, delivered through SQS: each starts its task. */
export const makeUploadEventsHandler = (deps: () => UploadEventsDeps) =>
  sqsHandler(async (record) => {
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
      const outcome = await uploadArrived(deps(), task, entry.s3.object.size);
      logger.info('Upload arrived', { task_id: taskId, outcome });
    }
  });

export const handler = makeUploadEventsHandler(uploadEventsDeps);
