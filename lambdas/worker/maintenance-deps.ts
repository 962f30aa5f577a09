import { awsClients } from '../adapters/clients.js';
import { DynamoTaskStore } from '../adapters/dynamo-task-store.js';
import { S3BlobStore } from '../adapters/s3-blob-store.js';
import { SqsJobQueue } from '../adapters/sqs-job-queue.js';
import { loadConfig, maintenanceConfigSchema, type MaintenanceConfig } from '../config.js';
import { systemClock, type BlobStore, type Clock, type JobQueue, type TaskStore } from '../core/ports.js';

/** What the DLQ consumer, the upload listener and the janitor need. */
export interface MaintenanceDeps {
  config: MaintenanceConfig;
  store: TaskStore;
  blobs: BlobStore;
  queue: JobQueue;
  clock: Clock;
}

let deps: MaintenanceDeps | undefined;

export const maintenanceDeps = (): MaintenanceDeps => {
  if (deps) return deps;
  const config = loadConfig(maintenanceConfigSchema);
  const clients = awsClients({ forcePathStyle: config.S3_FORCE_PATH_STYLE });
  deps = {
    config,
    store: new DynamoTaskStore(clients.dynamo, config.TABLE_NAME),
    blobs: new S3BlobStore(clients.s3),
    queue: new SqsJobQueue(clients.sqs, { standard: config.QUEUE_URL, large: config.LARGE_QUEUE_URL }),
    clock: systemClock,
  };
  return deps;
};
