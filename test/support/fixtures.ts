import { workerEnvironmentSchema } from '../../lambdas/config.js';
import type { Task } from '../../lambdas/core/task.js';

export const TASK_ID = '0b6f3c8e-2d4a-4f6b-9c1e-5a7d8e9f0a1b';
export const NOW = new Date('2026-11-27T12:00:00.000Z');

/** A task row with sensible defaults; override what a test is about. */
export const aTask = (overrides: Partial<Task> = {}): Task => ({
  task_id: TASK_ID,
  status: 'PENDING',
  progress: 0,
  stage: 'queued',
  source: { type: 'upload', filename: 'memo.txt', size_bytes: 5 },
  input: { kind: 's3', bucket: 'bucket', key: `direct/${overrides.task_id ?? TASK_ID}/input` },
  options: { split: false, chunk_size: 1000, chunk_overlap: 200 },
  queue: 'standard',
  attempts: 1,
  created_at: NOW.toISOString(),
  updated_at: NOW.toISOString(),
  expires_at: new Date(NOW.getTime() + 7 * 86400_000).toISOString(),
  owner: 'anonymous',
  ...overrides,
});

export const fixedClock = (now = NOW) => ({ now: () => now });

/** A standard worker's configuration, as its environment would give it. */
export const testWorkerConfig = () =>
  workerEnvironmentSchema.parse({
    TABLE_NAME: 'tasks',
    BUCKET_NAME: 'bucket',
    QUEUE_CLASS: 'standard',
    SOFT_TIME_LIMIT_MARGIN_MS: '1000',
    FUNCTION_TIMEOUT_MS: '60000',
    URL_FETCH_MAX_BYTES: '1000000',
    URL_FETCH_TIMEOUT_MS: '5000',
    MAX_INPUT_BYTES: '10000000',
    SANDBOX_MEMORY_MB: '512',
  });
