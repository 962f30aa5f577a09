import { awsClients } from '../adapters/clients.js';
import { DynamoTaskStore } from '../adapters/dynamo-task-store.js';
import { S3BlobStore } from '../adapters/s3-blob-store.js';
import { SqsJobQueue } from '../adapters/sqs-job-queue.js';
import {
  dlqConfigSchema,
  janitorConfigSchema,
  loadConfig,
  uploadEventsConfigSchema,
  type JanitorConfig,
} from '../config.js';
import { systemClock, type BlobStore, type Clock, type JobQueue, type TaskStore } from '../core/ports.js';

/** What the DLQ consumer, the upload listener and the janitor work with; each gets only its part. */
export interface DlqDeps {
  store: TaskStore;
  clock: Clock;
  functionTimeoutMs: number;
}

export interface UploadEventsDeps {
  store: TaskStore;
  queue: JobQueue;
  clock: Clock;
}

export interface JanitorDeps extends UploadEventsDeps {
  blobs: BlobStore;
  config: Pick<JanitorConfig, 'PENDING_REQUEUE_MINUTES'>;
}

const once = <T>(build: () => T): (() => T) => {
  let value: T | undefined;
  return () => (value ??= build());
};

export const buildDlqDeps = (env: NodeJS.ProcessEnv): DlqDeps => {
  const config = loadConfig(dlqConfigSchema, env);
  return {
    store: new DynamoTaskStore(awsClients().dynamo, config.TABLE_NAME),
    clock: systemClock,
    functionTimeoutMs: config.FUNCTION_TIMEOUT_MS,
  };
};

export const buildUploadEventsDeps = (env: NodeJS.ProcessEnv): UploadEventsDeps => {
  const config = loadConfig(uploadEventsConfigSchema, env);
  const clients = awsClients();
  return {
    store: new DynamoTaskStore(clients.dynamo, config.TABLE_NAME),
    queue: new SqsJobQueue(clients.sqs, { standard: config.QUEUE_URL, large: config.LARGE_QUEUE_URL }),
    clock: systemClock,
  };
};

export const buildJanitorDeps = (env: NodeJS.ProcessEnv): JanitorDeps => {
  const config = loadConfig(janitorConfigSchema, env);
  const clients = awsClients({ forcePathStyle: config.S3_FORCE_PATH_STYLE });
  return {
    config,
    store: new DynamoTaskStore(clients.dynamo, config.TABLE_NAME),
    blobs: new S3BlobStore(clients.s3),
    queue: new SqsJobQueue(clients.sqs, { standard: config.QUEUE_URL, large: config.LARGE_QUEUE_URL }),
    clock: systemClock,
  };
};

export const dlqDeps = once(() => buildDlqDeps(process.env));
export const uploadEventsDeps = once(() => buildUploadEventsDeps(process.env));
export const janitorDeps = once(() => buildJanitorDeps(process.env));
