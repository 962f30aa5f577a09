import { awsClients } from '../adapters/clients.js';
import { batchJobQueue, batchStore, blobStore, eventSink, jobQueue, taskStore } from '../adapters/index.js';
import { s3PrefixLister } from '../adapters/s3-prefix-lister.js';
import { once } from '../cold-start.js';
import { batchJobsEnvironmentSchema, loadConfig } from '../config.js';
import type { BatchJobDeps, BatchPolicy } from '../core/batches.js';
import { systemClock } from '../core/ports.js';
import { taskMetrics } from '../observability.js';

export interface BatchJobsContext {
  deps: BatchJobDeps;
  policy: BatchPolicy;
}

/** The batch-jobs function's dependencies, for a function whose environment is `env`. */
export const buildBatchJobsContext = (env: NodeJS.ProcessEnv): BatchJobsContext => {
  const config = loadConfig(batchJobsEnvironmentSchema, env);
  return {
    deps: {
      store: taskStore(config.TABLE_NAME),
      batches: batchStore(config.TABLE_NAME),
      blobs: blobStore(),
      queue: jobQueue(config),
      batchJobs: batchJobQueue(config.BATCH_QUEUE_URL),
      clock: systemClock,
      metrics: taskMetrics,
      events: eventSink(config),
      listPrefix: s3PrefixLister(awsClients().s3),
    },
    policy: {
      bucket: config.BUCKET_NAME,
      largeInputThresholdBytes: config.LARGE_INPUT_THRESHOLD_BYTES,
      pageSize: config.BATCH_PAGE_SIZE,
    },
  };
};

export const batchJobsDeps = once(() => buildBatchJobsContext(process.env));
