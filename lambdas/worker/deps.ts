import { randomUUID } from 'node:crypto';
import { blobStore, once, taskStore } from '../adapters/index.js';
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
  return {
    config,
    store: taskStore(config.TABLE_NAME),
    blobs: blobStore(),
    clock: systemClock,
    newId: randomUUID,
    fetchUrl,
    processDocument,
    progressIntervalMs: 1000,
  };
};

/** Built once per cold start from the function's environment. */
export const workerDeps = once(() => buildWorkerDeps(process.env));
