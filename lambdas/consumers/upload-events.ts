import type { S3Event, S3EventRecord } from 'aws-lambda';
import { PREFIX } from '../../shared/definitions.js';
import { dropFolderArrived } from '../core/drop-folder.js';
import { uploadArrived } from '../core/lifecycle.js';
import { TASK_ID_PATTERN } from '../core/task.js';
import { logger } from '../observability.js';
import { uploadEventsDeps, type UploadEventsDeps } from './maintenance-deps.js';
import { parseJson, sqsHandler } from './sqs-handler.js';

/** S3 sends keys URL-encoded, spaces as `+`. */
const decodeKey = (key: string): string => decodeURIComponent(key.replace(/\+/g, ' '));

const taskIdFromKey = (key: string): string | undefined => {
  const match = new RegExp(`^${PREFIX.uploads}([^/]+)/input$`).exec(key);
  return match?.[1] && TASK_ID_PATTERN.test(match[1]) ? match[1] : undefined;
};

const presignedUploadArrived = async (deps: UploadEventsDeps, key: string, size: number) => {
  const taskId = taskIdFromKey(key);
  if (!taskId) {
    logger.warn('Object outside the upload layout; ignored', { key });
    return;
  }
  const task = await deps.store.get(taskId);
  if (!task) return;
  const outcome = await uploadArrived(deps, task, size);
  logger.info('Upload arrived', { task_id: taskId, outcome });
};

const objectDropped = async (deps: UploadEventsDeps, entry: S3EventRecord, key: string) => {
  if (!deps.dropFolder) {
    logger.warn('Object in the drop folder, which is off; ignored', { key });
    return;
  }
  const { object, bucket } = entry.s3;
  const { outcome, taskId } = await dropFolderArrived(
    { ...deps, blobs: deps.dropFolder.blobs },
    deps.dropFolder.settings,
    { bucket: bucket?.name ?? '', key, eTag: object.eTag, versionId: object.versionId, sequencer: object.sequencer },
  );
  logger.info('Object dropped', { key, task_id: taskId, outcome });
};

/**
 * S3 ObjectCreated notifications, delivered through SQS, routed by key
 * prefix: a presigned upload (`uploads/`) starts its task; an object of the
 * drop folder (`inbox/`, when it is on) becomes a task.
 */
export const makeUploadEventsHandler = (deps: () => UploadEventsDeps) =>
  sqsHandler(async (record) => {
    const notification = parseJson(record.body) as Partial<S3Event> | undefined;
    for (const entry of notification?.Records ?? []) {
      if (!entry.eventName?.startsWith('ObjectCreated:')) continue;
      const key = decodeKey(entry.s3.object.key);
      if (key.startsWith(PREFIX.inbox)) await objectDropped(deps(), entry, key);
      else await presignedUploadArrived(deps(), key, entry.s3.object.size);
    }
  });

export const handler = makeUploadEventsHandler(uploadEventsDeps);
