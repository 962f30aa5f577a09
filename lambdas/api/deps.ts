import { awsClients } from '../adapters/clients.js';
import { DynamoTaskStore } from '../adapters/dynamo-task-store.js';
import { S3BlobStore } from '../adapters/s3-blob-store.js';
import { SqsJobQueue } from '../adapters/sqs-job-queue.js';
import { apiConfigSchema, loadConfig, type ApiConfig } from '../config.js';
import { systemClock } from '../core/ports.js';
import { newTaskId, type TaskServiceDeps } from '../core/tasks.js';

export interface ApiDeps extends TaskServiceDeps {
  config: ApiConfig;
  newId: () => string;
}

/** Real adapters over the SDK clients, for a function whose environment is `env`. */
export const buildApiDeps = (env: NodeJS.ProcessEnv): ApiDeps => {
  const config = loadConfig(apiConfigSchema, env);
  const clients = awsClients({ forcePathStyle: config.S3_FORCE_PATH_STYLE });
  return {
    config,
    store: new DynamoTaskStore(clients.dynamo, config.TABLE_NAME),
    blobs: new S3BlobStore(clients.s3),
    queue: new SqsJobQueue(clients.sqs, { standard: config.QUEUE_URL, large: config.LARGE_QUEUE_URL }),
    clock: systemClock,
    newId: newTaskId,
  };
};

let deps: ApiDeps | undefined;

/** Built once per cold start from the function's environment. */
export const apiDeps = (): ApiDeps => (deps ??= buildApiDeps(process.env));

export const submissionPolicy = (config: ApiConfig) => ({
  taskRetentionDays: config.TASK_RETENTION_DAYS,
  largeInputThresholdBytes: config.LARGE_INPUT_THRESHOLD_BYTES,
});

export const SUBMITTED_MESSAGE = 'Document processing task submitted';
