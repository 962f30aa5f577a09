import { blobStore, taskStore } from '../adapters/index.js';
import { once } from '../cold-start.js';
import { kbTransformEnvironmentSchema, loadConfig } from '../config.js';
import { logger } from '../observability.js';
import { TransformEventError, transformBatches, type TransformDeps, type TransformResponse } from './transform.js';

/**
 * The Lambda a knowledge base's data source calls after chunking (CDK:
 * lib/constructs/knowledge-base.ts). It reads the intermediate bucket it was
 * deployed with and no other: an event naming another bucket is refused.
 */
export const buildTransformDeps = (env: NodeJS.ProcessEnv): TransformDeps & { intermediateBucket: string } => {
  const config = loadConfig(kbTransformEnvironmentSchema, env);
  const store = taskStore(config.TABLE_NAME);
  const blobs = blobStore();
  return {
    intermediateBucket: config.KB_INTERMEDIATE_BUCKET,
    getTask: (taskId) => store.get(taskId),
    read: async (bucket, key, maxBytes) => (await blobs.get(bucket, key, maxBytes)).bytes,
    write: (bucket, key, body) => blobs.put(bucket, key, body, 'application/json'),
    maxBytes: config.KB_TRANSFORM_MAX_BYTES,
    log: (level, message, detail) => logger[level](message, detail),
  };
};

export const makeTransformHandler =
  (deps: () => TransformDeps & { intermediateBucket: string }) =>
  async (event: unknown): Promise<TransformResponse> => {
    const bucket = (event as { bucketName?: unknown } | null)?.bucketName;
    if (typeof bucket === 'string' && bucket !== deps().intermediateBucket) {
      throw new TransformEventError(
        `The event names the bucket ${bucket}; this function reads only ${deps().intermediateBucket} (KB_INTERMEDIATE_BUCKET).`,
      );
    }
    return transformBatches(deps(), event);
  };

export const handler = makeTransformHandler(once(() => buildTransformDeps(process.env)));
