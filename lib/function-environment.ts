import { bytes, type DeploymentConfig } from './config.js';

/**
 * The environment each kind of function gets from the configuration (besides
 * the resource names that the grant helpers add). The CDK constructs and the
 * embedded local stack both build it here, and a test compares the two.
 */
export const apiEnvironment = (config: DeploymentConfig) => ({
  LARGE_INPUT_THRESHOLD_BYTES: bytes(config.largeInputThresholdMb),
  DIRECT_UPLOAD_MAX_BYTES: bytes(config.directUploadMaxMb),
  PRESIGNED_UPLOAD_MAX_BYTES: bytes(config.presignedUploadMaxMb),
  PRESIGNED_URL_TTL_SECONDS: config.presignedUrlTtlSeconds,
  RESULT_INLINE_LIMIT_BYTES: bytes(config.resultInlineLimitMb),
  TASK_RETENTION_DAYS: config.taskRetentionDays,
  CORS_ORIGINS: config.corsOrigins.join(','),
});

export const workerTimeoutSeconds = (config: DeploymentConfig, queueClass: 'standard' | 'large') =>
  queueClass === 'large' ? config.largeWorkerTimeoutSeconds : config.workerTimeoutSeconds;

export const workerEnvironment = (config: DeploymentConfig, queueClass: 'standard' | 'large') => ({
  QUEUE_CLASS: queueClass,
  FUNCTION_TIMEOUT_MS: workerTimeoutSeconds(config, queueClass) * 1000,
  SOFT_TIME_LIMIT_MARGIN_MS: config.softTimeLimitMarginSeconds * 1000,
  DOCUMENT_TIME_BUDGET_MS: config.documentTimeBudgetSeconds * 1000,
  URL_FETCH_MAX_BYTES: bytes(config.urlFetchMaxMb),
  URL_FETCH_TIMEOUT_MS: config.urlFetchTimeoutSeconds * 1000,
  MAX_INPUT_BYTES: bytes(Math.max(config.presignedUploadMaxMb, config.urlFetchMaxMb)),
  MAX_PAGES: config.maxPages,
  SANDBOX_MEMORY_MB: sandboxMemoryMb(queueClass === 'large' ? config.largeWorkerMemoryMb : config.workerMemoryMb),
});

/**
 * What one document may use in its sandbox thread: 60 % of the function's
 * memory, leaving the rest to the function itself and the PDF page threads
 * (each bounded on its own).
 */
export const sandboxMemoryMb = (functionMemoryMb: number) => Math.floor(functionMemoryMb * 0.6);

export const dlqEnvironment = (config: DeploymentConfig) => ({
  WORKER_TIMEOUT_MS: workerTimeoutSeconds(config, 'standard') * 1000,
  LARGE_WORKER_TIMEOUT_MS: workerTimeoutSeconds(config, 'large') * 1000,
});

export const janitorEnvironment = (config: DeploymentConfig) => ({
  PENDING_REQUEUE_MINUTES: config.pendingRequeueMinutes,
});

/** Timeouts of the queue consumers; each queue's visibility timeout is derived from its consumer's. */
export const UPLOAD_EVENTS_TIMEOUT_SECONDS = 30;
export const API_TIMEOUT_SECONDS = 29;
export const DLQ_TIMEOUT_SECONDS = 30;
export const JANITOR_TIMEOUT_SECONDS = 120;
