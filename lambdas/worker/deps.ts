import { randomUUID } from 'node:crypto';
import { awsClients } from '../adapters/clients.js';
import { DynamoTaskStore } from '../adapters/dynamo-task-store.js';
import { S3BlobStore } from '../adapters/s3-blob-store.js';
import { loadConfig, workerConfigSchema, type WorkerConfig } from '../config.js';
import { systemClock, type BlobStore, type Clock, type TaskStore } from '../core/ports.js';
import { processDocument } from '../core/process-document.js';
import { fetchUrl } from './fetch-url.js';

export interface WorkerDeps {
  config: WorkerConfig;
  store: TaskStore;
  blobs: BlobStore;
  clock: Clock;
  newId: () => string;
  fetchUrl: typeof fetchUrl;
  processDocument: typeof processDocument;
  /** Minimum time between two progress writes within a stage. */
  progressIntervalMs: number;
}

export const buildWorkerDeps = (env: NodeJS.ProcessEnv): WorkerDeps => {
  const config = loadConfig(workerConfigSchema, env);
  const clients = awsClients({ forcePathStyle: config.S3_FORCE_PATH_STYLE });
  return {
    config,
    store: new DynamoTaskStore(clients.dynamo, config.TABLE_NAME),
    blobs: new S3BlobStore(clients.s3),
    clock: systemClock,
    newId: randomUUID,
    fetchUrl,
    processDocument,
    progressIntervalMs: 1000,
  };
};

let deps: WorkerDeps | undefined;

/** Built once per cold start from the function's environment. */
export const workerDeps = (): WorkerDeps => (deps ??= buildWorkerDeps(process.env));
