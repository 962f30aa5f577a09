import { blobStore, eventSink, jobQueue, taskStore } from '../adapters/index.js';
import { once } from '../cold-start.js';
import { apiEnvironmentSchema, loadConfig, type ApiConfig } from '../config.js';
import { systemClock, type EventSink } from '../core/ports.js';
import { newTaskId, type SubmissionDeps, type SubmissionPolicy } from '../core/submission.js';
import { taskMetrics } from '../observability.js';

export interface ApiDeps extends SubmissionDeps {
  config: ApiConfig;
  events: EventSink;
  /** Waits between the reads of a long poll. */
  pause: (ms: number) => Promise<void>;
}

/** Real adapters over the SDK clients, for a function whose environment is `env`. */
export const buildApiDeps = (env: NodeJS.ProcessEnv): ApiDeps => {
  const config = loadConfig(apiEnvironmentSchema, env);
  return {
    config,
    store: taskStore(config.TABLE_NAME),
    blobs: blobStore(),
    queue: jobQueue(config),
    clock: systemClock,
    metrics: taskMetrics,
    newId: newTaskId,
    events: eventSink(config),
    pause: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
};

/** Built once per cold start from the function's environment. */
export const apiDeps = once(() => buildApiDeps(process.env));

export const submissionPolicy = (config: ApiConfig): SubmissionPolicy => ({
  taskRetentionDays: config.TASK_RETENTION_DAYS,
  largeInputThresholdBytes: config.LARGE_INPUT_THRESHOLD_BYTES,
  bucket: config.BUCKET_NAME,
  presignedUrlTtlSeconds: config.PRESIGNED_URL_TTL_SECONDS,
  destinations: config.KB_DESTINATIONS,
  figureModelId: config.FIGURE_MODEL_ID || undefined,
});

export const SUBMITTED_MESSAGE = 'Document processing task submitted';
