import * as z from 'zod';
import { BATCH, parseSourceLocations } from './definitions.js';
import { kbDestinationsVariable } from './knowledge-base.js';

/**
 * The environment contract between the infrastructure and the runtime: the
 * variables each kind of function reads, with their types. The runtime
 * parses its environment with these schemas at a cold start (a missing or
 * malformed variable fails it, naming the variable); the CDK stack and the
 * embedded stack build each function's environment with builders typed
 * against the same schemas (lib/function-environment.ts), so a misspelt or
 * unknown variable fails the type check instead of falling back to a default.
 */
const int = z.coerce.number().int().nonnegative();
const flag = z
  .enum(['true', 'false', '1', '0', ''])
  .default('false')
  .transform((value) => value === 'true' || value === '1');
const list = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

/** Where `s3://` sources may be read (`bucket/prefix,…`, see definitions.ts); only the routes that take sources have any. */
const sourceLocations = z.string().default('').transform(parseSourceLocations);

const storage = {
  TABLE_NAME: z.string().min(1),
  BUCKET_NAME: z.string().min(1),
};

const queues = {
  QUEUE_URL: z.string().min(1),
  LARGE_QUEUE_URL: z.string().min(1),
};

/** Where a function that changes statuses announces them: the event bus, the webhook-deliveries queue. */
const announcing = {
  EVENT_BUS_NAME: z.string().default(''),
  WEBHOOK_QUEUE_URL: z.string().default(''),
};

/** API functions get only what their route touches: a route that never queues has no queue URL. */
export const apiEnvironmentSchema = z.object({
  TABLE_NAME: storage.TABLE_NAME,
  BUCKET_NAME: z.string().default(''),
  QUEUE_URL: z.string().default(''),
  LARGE_QUEUE_URL: z.string().default(''),
  LARGE_INPUT_THRESHOLD_BYTES: int,
  DIRECT_UPLOAD_MAX_BYTES: int,
  PRESIGNED_UPLOAD_MAX_BYTES: int,
  PRESIGNED_URL_TTL_SECONDS: int,
  RESULT_INLINE_LIMIT_BYTES: int,
  RESULT_URL_TTL_SECONDS: int.default(3600),
  TASK_RETENTION_DAYS: int,
  SOURCE_LOCATIONS: sourceLocations,
  /** Browser origins allowed by CORS (comma-separated); none: CORS off. */
  CORS_ORIGINS: list,
  /** Lets URL sources (and callback URLs) point at private addresses; for local tests only, never set by the CDK stack. */
  ALLOW_PRIVATE_URLS: flag,
  ...announcing,
  /** The batch routes: where a batch's pages of work are queued. */
  BATCH_QUEUE_URL: z.string().default(''),
  /** The knowledge-base destinations (shared/knowledge-base.ts) a submission's `destination` may name. */
  KB_DESTINATIONS: kbDestinationsVariable,
  /** The Bedrock model that describes figures (`figureModelId`); empty: `figures=describe` is refused. */
  FIGURE_MODEL_ID: z.string().default(''),
});

/**
 * The preview route reads sources and processes them itself, in a sandbox of
 * its own: no table, no queue, no bucket of its own.
 */
export const previewEnvironmentSchema = z.object({
  SOURCE_LOCATIONS: sourceLocations,
  CORS_ORIGINS: list,
  /** The largest result a response carries, measured as GET tasks/{id} measures it. */
  RESULT_INLINE_LIMIT_BYTES: int,
  /** Heap, and heap plus array buffers, one document may use in its sandbox thread. */
  SANDBOX_MEMORY_MB: int.min(64),
  ALLOW_PRIVATE_URLS: flag,
});

export const workerEnvironmentSchema = z.object({
  ...storage,
  QUEUE_CLASS: z.enum(['standard', 'large']),
  SOFT_TIME_LIMIT_MARGIN_MS: int,
  /** Most time one document may take to process, within the soft time limit. */
  DOCUMENT_TIME_BUDGET_MS: int.default(240_000),
  FUNCTION_TIMEOUT_MS: int,
  /** A run's claim on its task outlives the function timeout by this much. */
  LEASE_MARGIN_MS: int.default(30_000),
  URL_FETCH_MAX_BYTES: int,
  URL_FETCH_TIMEOUT_MS: int,
  MAX_INPUT_BYTES: int,
  MAX_PAGES: int.default(5000),
  /** Heap, and heap plus array buffers, one document may use in its sandbox thread. */
  SANDBOX_MEMORY_MB: int.min(64),
  ALLOW_PRIVATE_URLS: flag,
  /** How long a result may be reused for the same input (`resultCacheTtlHours`); 0, or unset: the cache is off. */
  RESULT_CACHE_TTL_SECONDS: int.default(0),
  /** The pages queue, where a document with many pages to recognise goes in parts; unset: no fan-out. */
  PAGES_QUEUE_URL: z.string().default(''),
  /** Pages to recognise from which a document is read in parts (`ocrFanOutMinPages`); 0: never. */
  OCR_FAN_OUT_MIN_PAGES: int.default(0),
  /** Pages to recognise per part (`ocrPagesPerPart`). */
  OCR_PAGES_PER_PART: int.min(1).default(8),
  /** Where a succeeded task's document also goes (option `destination`), and which knowledge bases to sync. */
  KB_DESTINATIONS: kbDestinationsVariable,
  /** The Bedrock model that describes figures (`figures=describe`), and how many per task at most. */
  FIGURE_MODEL_ID: z.string().default(''),
  FIGURE_DESCRIPTIONS_PER_TASK: int.min(1).default(20),
  ...announcing,
});

export const deadLettersEnvironmentSchema = z.object({
  TABLE_NAME: storage.TABLE_NAME,
  ...announcing,
  /** Each worker's timeout, to tell a run its timeout stopped from a crash (by the queue the task was on). */
  WORKER_TIMEOUT_MS: int,
  LARGE_WORKER_TIMEOUT_MS: int,
});

/**
 * The listener of S3 notifications: presigned uploads, and the drop folder
 * when it is on (DROP_FOLDER): it then creates tasks, owned by
 * DROP_FOLDER_OWNER, from objects of BUCKET_NAME's `inbox/`.
 */
export const uploadEventsEnvironmentSchema = z.object({
  TABLE_NAME: storage.TABLE_NAME,
  ...queues,
  ...announcing,
  BUCKET_NAME: z.string().default(''),
  DROP_FOLDER: flag,
  DROP_FOLDER_OWNER: z.string().min(1),
  LARGE_INPUT_THRESHOLD_BYTES: int,
  TASK_RETENTION_DAYS: int,
  /** The Bedrock model that describes figures (`figureModelId`): a drop-folder file may ask for figures=describe. */
  FIGURE_MODEL_ID: z.string().default(''),
});

/**
 * The knowledge-base transformation (a data source's post-chunking step):
 * it reads tasks and their results, and the KB's intermediate bucket.
 */
export const kbTransformEnvironmentSchema = z.object({
  ...storage,
  /** The intermediate bucket the knowledge base hands batch files in. */
  KB_INTERMEDIATE_BUCKET: z.string().min(1),
  /** The largest file (a KB batch file, a result) read whole. */
  KB_TRANSFORM_MAX_BYTES: int.default(50 * 1024 * 1024),
});

export const janitorEnvironmentSchema = z.object({
  ...storage,
  ...queues,
  ...announcing,
  PENDING_REQUEUE_MINUTES: int.default(60),
});

/** Where deliveries are logged and queued; the functions that send to the queue get its URL. */
export const batchJobsEnvironmentSchema = z.object({
  ...storage,
  ...queues,
  ...announcing,
  /** Its own queue: each page of a batch queues the next. */
  BATCH_QUEUE_URL: z.string().min(1),
  LARGE_INPUT_THRESHOLD_BYTES: int,
  /** Local tests only: smaller listing pages, so that a few hundred objects make several pages. */
  BATCH_PAGE_SIZE: z.coerce.number().int().min(1).max(BATCH.pageSize).default(BATCH.pageSize),
});

const webhooks = {
  DELIVERIES_TABLE_NAME: z.string().min(1),
  WEBHOOK_QUEUE_URL: z.string().min(1),
};

/**
 * The webhook consumer: reads the task row (callback URL, owner, result),
 * presigns the result, keeps the delivery log, queues its own retries, and
 * alone may read the signing secret.
 */
export const webhookDeliveriesEnvironmentSchema = z.object({
  ...storage,
  ...webhooks,
  WEBHOOK_SECRET_ARN: z.string().min(1),
  RESULT_URL_TTL_SECONDS: int.default(3600),
  /** Lets callback URLs point at loopback addresses, as URL sources; local tests only. */
  ALLOW_PRIVATE_URLS: flag,
  /** Local tests only: every retry delay and the give-up time multiplied by this, so a retry is seen in seconds. */
  WEBHOOK_RETRY_SCALE: z.coerce.number().positive().max(1).default(1),
});

/** The delivery-log routes: the task row (ownership) and the log; redeliver also queues. */
export const deliveriesApiEnvironmentSchema = z.object({
  TABLE_NAME: storage.TABLE_NAME,
  DELIVERIES_TABLE_NAME: webhooks.DELIVERIES_TABLE_NAME,
  WEBHOOK_QUEUE_URL: z.string().default(''),
  CORS_ORIGINS: list,
});

export type EnvironmentSchema =
  | typeof apiEnvironmentSchema
  | typeof previewEnvironmentSchema
  | typeof workerEnvironmentSchema
  | typeof deadLettersEnvironmentSchema
  | typeof uploadEventsEnvironmentSchema
  | typeof janitorEnvironmentSchema
  | typeof batchJobsEnvironmentSchema
  | typeof webhookDeliveriesEnvironmentSchema
  | typeof deliveriesApiEnvironmentSchema
  | typeof kbTransformEnvironmentSchema;

/**
 * What a builder may give a function of schema `S`: its variables and no
 * other (an object literal `satisfies` this fails the type check on a
 * misspelt name), as the strings, numbers and flags an environment holds.
 */
export type EnvironmentOf<S extends z.ZodObject> = Partial<Record<keyof z.input<S>, string | number | boolean>>;

export const parseEnvironment = <S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): z.output<S> => {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`Invalid function configuration (environment): ${problems}`);
  }
  return parsed.data;
};
