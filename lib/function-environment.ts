import {
  type apiEnvironmentSchema,
  type batchJobsEnvironmentSchema,
  type deadLettersEnvironmentSchema,
  type deliveriesApiEnvironmentSchema,
  type EnvironmentOf,
  type janitorEnvironmentSchema,
  type kbTransformEnvironmentSchema,
  type previewEnvironmentSchema,
  type uploadEventsEnvironmentSchema,
  type workerEnvironmentSchema,
} from '../shared/environment.js';
import { formatKbDestinations } from '../shared/knowledge-base.js';
import { bytes, dropFolderOwner, type DeploymentConfig } from './config.js';

/**
 * The environment each kind of function gets from the configuration (besides
 * the resource names its access adds, see function-catalogue.ts). The CDK
 * constructs and the embedded stack both build it here. Each builder is typed
 * against the schema the runtime parses it with (shared/environment.ts): a
 * variable the runtime does not read fails the type check.
 */
export const apiEnvironment = (config: DeploymentConfig) =>
  ({
    LARGE_INPUT_THRESHOLD_BYTES: bytes(config.largeInputThresholdMb),
    DIRECT_UPLOAD_MAX_BYTES: bytes(config.directUploadMaxMb),
    PRESIGNED_UPLOAD_MAX_BYTES: bytes(config.presignedUploadMaxMb),
    PRESIGNED_URL_TTL_SECONDS: config.presignedUrlTtlSeconds,
    RESULT_INLINE_LIMIT_BYTES: bytes(config.resultInlineLimitMb),
    TASK_RETENTION_DAYS: config.taskRetentionDays,
    CORS_ORIGINS: config.corsOrigins.join(','),
    KB_DESTINATIONS: formatKbDestinations(config.kbDestinations),
    FIGURE_MODEL_ID: config.figureModelId ?? '',
  }) satisfies EnvironmentOf<typeof apiEnvironmentSchema>;

/** The delivery-log routes: everything else they touch comes from their access. */
export const deliveriesApiEnvironment = (config: DeploymentConfig) =>
  ({ CORS_ORIGINS: config.corsOrigins.join(',') }) satisfies EnvironmentOf<typeof deliveriesApiEnvironmentSchema>;

export const workerTimeoutSeconds = (config: DeploymentConfig, queueClass: 'standard' | 'large') =>
  queueClass === 'large' ? config.largeWorkerTimeoutSeconds : config.workerTimeoutSeconds;

/**
 * What one document may use in its sandbox thread: 60 % of the function's
 * memory, leaving the rest to the function itself and the PDF page threads
 * (each bounded on its own).
 */
export const sandboxMemoryMb = (functionMemoryMb: number) => Math.floor(functionMemoryMb * 0.6);

export const workerEnvironment = (config: DeploymentConfig, queueClass: 'standard' | 'large') =>
  ({
    QUEUE_CLASS: queueClass,
    FUNCTION_TIMEOUT_MS: workerTimeoutSeconds(config, queueClass) * 1000,
    SOFT_TIME_LIMIT_MARGIN_MS: config.softTimeLimitMarginSeconds * 1000,
    DOCUMENT_TIME_BUDGET_MS: config.documentTimeBudgetSeconds * 1000,
    URL_FETCH_MAX_BYTES: bytes(config.urlFetchMaxMb),
    URL_FETCH_TIMEOUT_MS: config.urlFetchTimeoutSeconds * 1000,
    MAX_INPUT_BYTES: bytes(Math.max(config.presignedUploadMaxMb, config.urlFetchMaxMb)),
    MAX_PAGES: config.maxPages,
    SANDBOX_MEMORY_MB: sandboxMemoryMb(queueClass === 'large' ? config.largeWorkerMemoryMb : config.workerMemoryMb),
    RESULT_CACHE_TTL_SECONDS: config.resultCacheTtlHours * 3600,
    OCR_FAN_OUT_MIN_PAGES: config.ocrFanOutMinPages,
    OCR_PAGES_PER_PART: config.ocrPagesPerPart,
    KB_DESTINATIONS: formatKbDestinations(config.kbDestinations),
    FIGURE_MODEL_ID: config.figureModelId ?? '',
    FIGURE_DESCRIPTIONS_PER_TASK: config.figureDescriptionsPerTask,
  }) satisfies EnvironmentOf<typeof workerEnvironmentSchema>;

/** The page worker reads parts of standard size: the standard worker's settings, in its own memory. */
export const pageWorkerEnvironment = (config: DeploymentConfig) =>
  ({
    ...workerEnvironment(config, 'standard'),
    SANDBOX_MEMORY_MB: sandboxMemoryMb(config.pageWorkerMemoryMb),
  }) satisfies EnvironmentOf<typeof workerEnvironmentSchema>;

export const previewEnvironment = (config: DeploymentConfig, functionMemoryMb: number) =>
  ({
    CORS_ORIGINS: config.corsOrigins.join(','),
    RESULT_INLINE_LIMIT_BYTES: bytes(config.resultInlineLimitMb),
    SANDBOX_MEMORY_MB: sandboxMemoryMb(functionMemoryMb),
  }) satisfies EnvironmentOf<typeof previewEnvironmentSchema>;

export const deadLettersEnvironment = (config: DeploymentConfig) =>
  ({
    WORKER_TIMEOUT_MS: workerTimeoutSeconds(config, 'standard') * 1000,
    LARGE_WORKER_TIMEOUT_MS: workerTimeoutSeconds(config, 'large') * 1000,
  }) satisfies EnvironmentOf<typeof deadLettersEnvironmentSchema>;

/** The drop folder's settings (the bucket it reads comes with the access the drop folder adds). */
export const uploadEventsEnvironment = (config: DeploymentConfig) =>
  ({
    DROP_FOLDER: config.dropFolder,
    DROP_FOLDER_OWNER: dropFolderOwner(config),
    LARGE_INPUT_THRESHOLD_BYTES: bytes(config.largeInputThresholdMb),
    TASK_RETENTION_DAYS: config.taskRetentionDays,
    FIGURE_MODEL_ID: config.figureModelId ?? '',
  }) satisfies EnvironmentOf<typeof uploadEventsEnvironmentSchema>;

export const janitorEnvironment = (config: DeploymentConfig) =>
  ({
    PENDING_REQUEUE_MINUTES: config.pendingRequeueMinutes,
  }) satisfies EnvironmentOf<typeof janitorEnvironmentSchema>;

export const batchJobsEnvironment = (config: DeploymentConfig) =>
  ({
    LARGE_INPUT_THRESHOLD_BYTES: bytes(config.largeInputThresholdMb),
  }) satisfies EnvironmentOf<typeof batchJobsEnvironmentSchema>;

/** The knowledge-base transformation: the intermediate bucket comes from the construct that wires it. */
export const kbTransformEnvironment = (intermediateBucket: string) =>
  ({ KB_INTERMEDIATE_BUCKET: intermediateBucket }) satisfies EnvironmentOf<typeof kbTransformEnvironmentSchema>;
