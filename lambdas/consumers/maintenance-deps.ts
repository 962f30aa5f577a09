import { blobStore, eventSink, jobQueue, taskStore } from '../adapters/index.js';
import { once } from '../cold-start.js';
import {
  deadLettersEnvironmentSchema,
  janitorEnvironmentSchema,
  loadConfig,
  uploadEventsEnvironmentSchema,
  type JanitorConfig,
} from '../config.js';
import type { QueueClass } from '../core/task.js';
import {
  systemClock,
  type BlobStore,
  type Clock,
  type EventSink,
  type JobQueue,
  type TaskMetrics,
  type TaskStore,
} from '../core/ports.js';
import type { DropFolderSettings } from '../core/drop-folder.js';
import { taskMetrics } from '../observability.js';

/** What the DLQ consumer, the upload listener and the janitor work with; each gets only its part. */
export interface DeadLettersDeps {
  store: TaskStore;
  clock: Clock;
  metrics: TaskMetrics;
  events: EventSink;
  /** The timeout of the worker that consumes each queue. */
  workerTimeoutMs: Record<QueueClass, number>;
}

export interface UploadEventsDeps {
  store: TaskStore;
  queue: JobQueue;
  clock: Clock;
  metrics: TaskMetrics;
  events: EventSink;
  /** When the drop folder is on (DROP_FOLDER): what reads its objects, and whose tasks they become. */
  dropFolder?: { blobs: BlobStore; settings: DropFolderSettings } | undefined;
}

export interface JanitorDeps extends UploadEventsDeps {
  blobs: BlobStore;
  config: Pick<JanitorConfig, 'PENDING_REQUEUE_MINUTES'>;
}

export const buildDeadLettersDeps = (env: NodeJS.ProcessEnv): DeadLettersDeps => {
  const config = loadConfig(deadLettersEnvironmentSchema, env);
  return {
    store: taskStore(config.TABLE_NAME),
    clock: systemClock,
    metrics: taskMetrics,
    events: eventSink(config),
    workerTimeoutMs: { standard: config.WORKER_TIMEOUT_MS, large: config.LARGE_WORKER_TIMEOUT_MS },
  };
};

export const buildUploadEventsDeps = (env: NodeJS.ProcessEnv): UploadEventsDeps => {
  const config = loadConfig(uploadEventsEnvironmentSchema, env);
  return {
    store: taskStore(config.TABLE_NAME),
    queue: jobQueue(config),
    clock: systemClock,
    metrics: taskMetrics,
    events: eventSink(config),
    ...(config.DROP_FOLDER
      ? {
          dropFolder: {
            blobs: blobStore(),
            settings: {
              owner: config.DROP_FOLDER_OWNER,
              policy: {
                bucket: config.BUCKET_NAME,
                taskRetentionDays: config.TASK_RETENTION_DAYS,
                largeInputThresholdBytes: config.LARGE_INPUT_THRESHOLD_BYTES,
                // A drop-folder task is never a presigned upload.
                presignedUrlTtlSeconds: 0,
                figureModelId: config.FIGURE_MODEL_ID || undefined,
              },
            },
          },
        }
      : {}),
  };
};

export const buildJanitorDeps = (env: NodeJS.ProcessEnv): JanitorDeps => {
  const config = loadConfig(janitorEnvironmentSchema, env);
  return {
    config,
    store: taskStore(config.TABLE_NAME),
    blobs: blobStore(),
    queue: jobQueue(config),
    clock: systemClock,
    metrics: taskMetrics,
    events: eventSink(config),
  };
};

export const deadLettersDeps = once(() => buildDeadLettersDeps(process.env));
export const uploadEventsDeps = once(() => buildUploadEventsDeps(process.env));
export const janitorDeps = once(() => buildJanitorDeps(process.env));
