import * as z from 'zod';
import { PREFIX, SERVICE_PREFIXES } from '../shared/definitions.js';
import { DESTINATION_NAME, formatKbDestinations, kbDestinationsSchema } from '../shared/knowledge-base.js';

const MB = 1024 * 1024;

const list = z
  .union([z.array(z.string()), z.string()])
  .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((item) => item.trim()).filter(Boolean));
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** A JSON boolean, or `true`/`false` as `-c key=value` gives it (z.coerce.boolean would read "false" as true). */
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')]);

/** Who owns tasks made without an API key: every caller when the API takes none (ANONYMOUS_OWNER of the runtime). */
const ANONYMOUS_OWNER = 'anonymous';

/** The destinations' share of a function's 4 KB environment. */
const KB_DESTINATIONS_MAX_CHARACTERS = 1500;

/** CloudWatch Logs accepts only these retention periods. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/**
 * The deployment's configuration: `docproc` in cdk.json's context, each key
 * overridable with `-c key=value`. docs/operations.md documents every key.
 */
export const deploymentConfigSchema = z
  .strictObject({
    /** Most standard workers running at once (the old `worker_concurrency`); SQS event sources allow 2–1000. */
    workerConcurrency: int(2, 1000).default(10),
    workerMemoryMb: int(512, 10240).default(2048),
    workerTimeoutSeconds: int(30, 900).default(300),
    workerBatchSize: int(1, 10).default(1),
    largeWorkerConcurrency: int(2, 1000).default(2),
    largeWorkerMemoryMb: int(1024, 10240).default(4096),
    largeWorkerTimeoutSeconds: int(30, 900).default(900),
    /**
     * Page fan-out: a document with at least this many pages to recognise is read in parts of `ocrPagesPerPart`
     * pages by the page worker, `pageWorkerConcurrency` at once (docs/reading.md, "Page fan-out"); 0: never.
     */
    ocrFanOutMinPages: int(0, 100000).default(16),
    ocrPagesPerPart: int(1, 1000).default(8),
    /** Most page workers running at once, each reading one part; SQS event sources allow 2–1000. */
    pageWorkerConcurrency: int(2, 1000).default(20),
    pageWorkerMemoryMb: int(1024, 10240).default(2048),
    /** The soft time limit is the function timeout minus this margin. */
    softTimeLimitMarginSeconds: int(5, 300).default(30),
    maxReceiveCount: int(1, 100).default(3),
    /** Most time one document may take to parse; within the soft time limit (a batch of several shares it). */
    documentTimeBudgetSeconds: int(1, 900).default(240),
    /** Inputs larger than this go to the large queue. */
    largeInputThresholdMb: int(1, 10240).default(20),
    /** Multipart uploads through API Gateway (10 MB request, 6 MB Lambda payload, base64 on the way). */
    directUploadMaxMb: int(1, 4).default(4),
    presignedUploadMaxMb: int(1, 5120).default(500),
    /**
     * A presigned URL works until it expires or the credentials that signed it do, whichever is first: the
     * function's role session is short-lived, so an hour is the most a URL can be promised.
     */
    presignedUrlTtlSeconds: int(60, 3600).default(900),
    urlFetchMaxMb: int(1, 5120).default(100),
    urlFetchTimeoutSeconds: int(1, 600).default(60),
    /**
     * Larger results are linked (`result_url`) instead of inlined. Lambda responses stop at 6 MB, and the
     * result is measured as it travels (escaped inside the response envelope), so 4 MB is the most.
     */
    resultInlineLimitMb: z.coerce.number().min(0.1).max(4).default(4),
    taskRetentionDays: int(1, 365).default(7),
    resultRetentionDays: int(1, 365).default(7),
    /** How long a stored result is reused for the same bytes, options and API key (docs/api.md, "Result cache"); 0: off. */
    resultCacheTtlHours: int(0, 365 * 24).default(24),
    uploadRetentionDays: int(1, 365).default(7),
    maxPages: int(1, 100000).default(5000),
    apiAuth: z.enum(['apiKey', 'none']).default('apiKey'),
    throttleRateLimit: int(1, 10000).default(50),
    throttleBurstLimit: int(1, 5000).default(100),
    /** Prefixes of the service's own bucket that `s3://` sources may name. */
    sourcePrefixes: list.default(['inbox/']),
    /** Other buckets (`bucket`) or parts of them (`bucket/prefix/`) that `s3://` sources may name. */
    allowedSourceBuckets: list.default([]),
    /** KMS keys that encrypt objects in `allowedSourceBuckets` (SSE-KMS): the workers may decrypt with them. */
    sourceKmsKeyArns: list.default([]),
    /** Objects written under `inbox/` become tasks (an S3 notification on the prefix). `npm start` turns it on. */
    dropFolder: flag.default(false),
    /**
     * The API key id (the ApiKeyId output) whose caller owns, lists and sees the drop folder's tasks. Without API
     * keys (`apiAuth: none`) every caller is `anonymous`, the default; with them, required when `dropFolder` is on.
     */
    dropFolderOwner: z
      .string()
      .regex(/^[\w.-]{1,128}$/, 'an API key id')
      .optional(),
    /** Origins allowed by CORS; empty: CORS off. */
    corsOrigins: list.default([]),
    alarmEmail: z.email().optional(),
    logRetentionDays: z.coerce
      .number()
      .refine((days) => LOG_RETENTION_DAYS.includes(days), `one of ${LOG_RETENTION_DAYS.join(', ')}`)
      .default(30),
    metricsNamespace: z
      .string()
      .regex(/^[\w./#:-]{1,255}$/)
      .default('DocProc'),
    janitorIntervalMinutes: int(1, 60).default(5),
    pendingRequeueMinutes: int(5, 1440).default(60),
    /** Alarm when the oldest message in a work queue is older than this. */
    queueAgeAlarmSeconds: int(60, 86400).default(900),
    /** Most webhook consumers running at once (each POSTs one event at a time). */
    webhookConcurrency: int(2, 1000).default(5),
    /**
     * The complete ARN of an existing Secrets Manager secret to sign webhooks with (its value: `whsec_<base64>`
     * secrets separated by spaces); without it the stack creates one.
     */
    webhookSecretArn: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}$/,
        'the complete ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>)',
      )
      .optional(),
    /**
     * Knowledge-base destinations by name (docs/knowledge-bases.md): option `destination=kb:<name>` writes a
     * succeeded task's document and its metadata sidecar under `bucket`/`prefix`; with `knowledgeBaseId` and
     * `dataSourceId`, a batch that ends starts one ingestion job. JSON through `-c`.
     */
    kbDestinations: z
      .preprocess((value) => (typeof value === 'string' ? (JSON.parse(value) as unknown) : value), kbDestinationsSchema)
      .default({}),
    /**
     * The Bedrock model that describes figures (option `figures=describe`, docs/figures.md): a model id or an
     * inference profile id that takes images through the Converse API. Unset: `describe` is refused with a 400.
     */
    figureModelId: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.:_-]{2,199}$/i, 'a Bedrock model id or inference profile id')
      .optional(),
    /** Figures described per task at most (`figures=describe`); the rest keep no description, and a warning says so. */
    figureDescriptionsPerTask: z.coerce.number().int().min(1).max(500).default(20),
    /**
     * The post-chunking transformation of a KB data source (our chunks instead of the KB's): deployed when set.
     * `intermediateBucket`: the bucket the KB hands batch files in (made by the stack when absent);
     * `dataSource`: also create the S3 data source of knowledge base `knowledgeBaseId` over destination
     * `destination`, wired to the transformation.
     */
    kbTransformation: z
      .preprocess(
        (value) => (typeof value === 'string' ? (JSON.parse(value) as unknown) : value),
        z.strictObject({
          intermediateBucket: z
            .string()
            .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name')
            .optional(),
          dataSource: z
            .strictObject({
              knowledgeBaseId: z.string().regex(/^[0-9A-Z]{10}$/, 'a knowledge base id'),
              destination: z.string().regex(DESTINATION_NAME, 'a name of kbDestinations'),
              name: z
                .string()
                .regex(/^[0-9a-zA-Z][_-]?(?:[0-9a-zA-Z][_-]?){0,99}$/)
                .default('docproc'),
            })
            .optional(),
        }),
      )
      .optional(),
  })
  .superRefine((config, ctx) => {
    const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    for (const [key, timeout] of [
      ['workerTimeoutSeconds', config.workerTimeoutSeconds],
      ['largeWorkerTimeoutSeconds', config.largeWorkerTimeoutSeconds],
    ] as const) {
      if (config.softTimeLimitMarginSeconds >= timeout / 2) {
        problem(
          'softTimeLimitMarginSeconds',
          `must be less than half of ${key} (${timeout}s) so the soft time limit leaves time to work`,
        );
      }
      if (6 * timeout > 43200)
        problem(key, 'six times the timeout (the queue visibility timeout) must not exceed 12 hours');
    }
    if (config.documentTimeBudgetSeconds > config.largeWorkerTimeoutSeconds - config.softTimeLimitMarginSeconds) {
      problem('documentTimeBudgetSeconds', 'must fit in the large worker soft time limit');
    }
    if (config.urlFetchTimeoutSeconds >= config.workerTimeoutSeconds - config.softTimeLimitMarginSeconds) {
      problem('urlFetchTimeoutSeconds', 'must be below the standard worker soft time limit');
    }
    if (config.resultRetentionDays < config.taskRetentionDays) {
      problem('resultRetentionDays', 'must be at least taskRetentionDays, or finished tasks would lose their results');
    }
    if (config.resultCacheTtlHours > config.resultRetentionDays * 24) {
      problem(
        'resultCacheTtlHours',
        `must not exceed resultRetentionDays (${config.resultRetentionDays * 24} hours): an entry must not outlive the result it points at`,
      );
    }
    if (config.uploadRetentionDays < config.taskRetentionDays) {
      problem('uploadRetentionDays', 'must be at least taskRetentionDays, or retries would find no input');
    }
    if (config.largeInputThresholdMb > config.presignedUploadMaxMb) {
      problem('largeInputThresholdMb', 'must not exceed presignedUploadMaxMb');
    }
    for (const prefix of config.sourcePrefixes) {
      if (!/^[\w!\-.*'()/]+\/$/.test(prefix) || prefix.startsWith('/')) {
        problem('sourcePrefixes', `${prefix}: a key prefix that ends with "/"`);
      } else if (SERVICE_PREFIXES.some((own) => prefix.startsWith(own) || own.startsWith(prefix))) {
        problem('sourcePrefixes', `${prefix}: overlaps ${SERVICE_PREFIXES.join(', ')}, where other callers' files are`);
      }
    }
    for (const entry of config.allowedSourceBuckets) {
      const [bucket = '', ...rest] = entry.split('/');
      const prefix = rest.join('/');
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || (prefix && !prefix.endsWith('/'))) {
        problem('allowedSourceBuckets', `${entry}: a bucket name, or bucket/prefix/`);
      }
    }
    for (const arn of config.sourceKmsKeyArns) {
      if (!/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/.test(arn)) {
        problem('sourceKmsKeyArns', `${arn}: a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)`);
      }
    }
    if (config.dropFolder && !config.sourcePrefixes.includes(PREFIX.inbox)) {
      problem(
        'dropFolder',
        `needs ${PREFIX.inbox} in sourcePrefixes: the workers read dropped objects as s3:// sources`,
      );
    }
    if (config.dropFolder && config.apiAuth === 'apiKey' && !config.dropFolderOwner) {
      problem(
        'dropFolderOwner',
        "required with dropFolder and apiAuth apiKey: the id of the API key (the ApiKeyId output) whose caller sees the drop folder's tasks",
      );
    }
    if (config.apiAuth === 'none' && config.dropFolderOwner && config.dropFolderOwner !== ANONYMOUS_OWNER) {
      problem('dropFolderOwner', `with apiAuth none every caller is ${ANONYMOUS_OWNER}: no one could see the tasks`);
    }
    // Lambda gives a function 4 KB of environment in all: the destinations must leave room for the rest.
    if (formatKbDestinations(config.kbDestinations).length > KB_DESTINATIONS_MAX_CHARACTERS) {
      problem(
        'kbDestinations',
        `at most ${KB_DESTINATIONS_MAX_CHARACTERS} characters as JSON (Lambda's 4 KB environment)`,
      );
    }
    const dataSource = config.kbTransformation?.dataSource;
    if (dataSource && !Object.hasOwn(config.kbDestinations, dataSource.destination)) {
      problem('kbTransformation', `dataSource.destination ${dataSource.destination} is not one of kbDestinations`);
    }
    if (config.throttleBurstLimit < config.throttleRateLimit / 10) {
      problem('throttleBurstLimit', 'is too small for throttleRateLimit');
    }
  });

export type DeploymentConfig = z.infer<typeof deploymentConfigSchema>;
export const CONFIG_KEYS = Object.keys(deploymentConfigSchema.shape) as Array<keyof DeploymentConfig>;

/** Reads `docproc` from the context, lets top-level `-c key=value` override any key, and validates. */
export const readDeploymentConfig = (tryGetContext: (key: string) => unknown): DeploymentConfig => {
  const base = (tryGetContext('docproc') ?? {}) as Record<string, unknown>;
  const overrides = Object.fromEntries(
    CONFIG_KEYS.map((key) => [key, tryGetContext(key)] as const).filter(([, value]) => value !== undefined),
  );
  return parseDeploymentConfig({ ...base, ...overrides });
};

export const parseDeploymentConfig = (input: unknown): DeploymentConfig => {
  const parsed = deploymentConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`).join('\n');
    throw new Error(`Invalid docproc configuration:\n${problems}`);
  }
  return parsed.data;
};

export const bytes = (megabytes: number) => Math.round(megabytes * MB);

/** Who owns drop-folder tasks (see `dropFolderOwner`). */
export const dropFolderOwner = (config: DeploymentConfig): string => config.dropFolderOwner ?? ANONYMOUS_OWNER;
