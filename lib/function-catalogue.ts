import type { DeploymentConfig } from './config.js';
import type { KbDestinations } from '../shared/knowledge-base.js';
import {
  apiEnvironmentSchema,
  batchJobsEnvironmentSchema,
  deadLettersEnvironmentSchema,
  deliveriesApiEnvironmentSchema,
  janitorEnvironmentSchema,
  kbTransformEnvironmentSchema,
  previewEnvironmentSchema,
  uploadEventsEnvironmentSchema,
  webhookDeliveriesEnvironmentSchema,
  workerEnvironmentSchema,
  type EnvironmentSchema,
} from '../shared/environment.js';
import {
  API_TIMEOUT_SECONDS,
  BATCH_JOBS_TIMEOUT_SECONDS,
  DEAD_LETTERS_TIMEOUT_SECONDS,
  formatSourceLocations,
  JANITOR_TIMEOUT_SECONDS,
  PREFIX,
  UPLOAD_EVENTS_TIMEOUT_SECONDS,
  WEBHOOK_DELIVERIES_TIMEOUT_SECONDS,
  KB_TRANSFORM_TIMEOUT_SECONDS,
  sourceLocations,
  type RouteHandler,
  type SourceLocation,
} from '../shared/definitions.js';
import {
  apiEnvironment,
  batchJobsEnvironment,
  deadLettersEnvironment,
  deliveriesApiEnvironment,
  janitorEnvironment,
  pageWorkerEnvironment,
  previewEnvironment,
  uploadEventsEnvironment,
  workerEnvironment,
  workerTimeoutSeconds,
} from './function-environment.js';

/**
 * Every function of the service, as plain data: its code, its size, what it
 * may touch and its environment. The CDK constructs create the functions and
 * their IAM policies from it; the embedded stack runs the same entries with
 * the same environment and enforces the same policies on their AWS calls. So
 * a grant missing on AWS is missing locally too, and fails the same way.
 * Adding a function means adding a record here and its handler.
 */
export type FunctionName =
  | RouteHandler
  | 'worker'
  | 'largeWorker'
  | 'pageWorker'
  | 'deadLetters'
  | 'uploadEvents'
  | 'janitor'
  | 'webhookDeliveries'
  | 'batchJobs';

export type TableAction = 'get' | 'batchGet' | 'query' | 'put' | 'update' | 'delete';
export type QueueName = 'standard' | 'large' | 'pages' | 'webhookDeliveries' | 'batchJobs';

export interface FunctionAccess {
  /** DynamoDB actions on the task table's items, and `query` on its indexes. TABLE_NAME when any. */
  table?: readonly TableAction[];
  /** Object actions on the service bucket, per key prefix. BUCKET_NAME when present. */
  bucket?: { read?: readonly string[]; write?: readonly string[]; delete?: readonly string[] };
  /** s3:ListBucket on the service bucket, so that a missing key reads as 404, not 403. */
  listBucket?: boolean;
  /** Reads `s3://` sources: read (and list) access where they may be. */
  sources?: boolean;
  /**
   * Lists the readable prefixes (a batch of a prefix): s3:ListBucket on the
   * source buckets, only for listings under those prefixes (`s3:prefix`).
   */
  listsSources?: boolean;
  /** Checks that a source is in one of those places before accepting it: SOURCE_LOCATIONS. */
  checksSources?: boolean;
  /** Reads their bytes: kms:Decrypt with the keys of `sourceKmsKeyArns` (SSE-KMS objects in other buckets). */
  decryptsSources?: boolean;
  /** Queues it sends to: QUEUE_URL (standard), LARGE_QUEUE_URL (large), PAGES_QUEUE_URL (pages), WEBHOOK_QUEUE_URL (webhookDeliveries). */
  sendsTo?: readonly QueueName[];
  /** DynamoDB actions on the webhook delivery log (`query` by task, on the table itself). DELIVERIES_TABLE_NAME when any. */
  deliveries?: readonly TableAction[];
  /** Reads the webhook signing secret (secretsmanager:GetSecretValue): WEBHOOK_SECRET_ARN. */
  readsWebhookSecret?: boolean;
  /**
   * Changes statuses, and so announces them: events:PutEvents on the bus
   * (EVENT_BUS_NAME) and the webhook deliveries it queues (WEBHOOK_QUEUE_URL).
   */
  announces?: boolean;
  /**
   * Writes succeeded tasks' documents under the knowledge-base destinations
   * (`kbDestinations`): s3:PutObject and s3:DeleteObject under each prefix (kms:GenerateDataKey
   * with a destination's key), and bedrock:StartIngestionJob on the knowledge
   * bases they name.
   */
  deliversToKnowledgeBases?: boolean;
  /** Reads and writes the KB's intermediate bucket (the transformation's batch files): KB_INTERMEDIATE_BUCKET. */
  kbIntermediateBucket?: boolean;
  /** Describes figures with this Bedrock model or inference profile (`figureModelId`): bedrock:InvokeModel on it. */
  describesFiguresWith?: string;
}

export interface FunctionSpec {
  /** Source file under `lambdas/`, exporting `handler`. */
  entry: string;
  description: string;
  memoryMb: number;
  timeoutSeconds: number;
  access: FunctionAccess;
  /** Settings from the configuration (resource names come from `access`). */
  environment: Record<string, string | number | boolean>;
  /** The schema the function parses its environment with (the contract both sides are checked against). */
  environmentSchema: EnvironmentSchema;
}

export type FunctionCatalogue = Record<FunctionName, FunctionSpec>;

const TABLE_ACTIONS: Record<TableAction, readonly string[]> = {
  get: ['dynamodb:GetItem'],
  batchGet: ['dynamodb:BatchGetItem'],
  query: ['dynamodb:Query'],
  put: ['dynamodb:PutItem'],
  update: ['dynamodb:UpdateItem'],
  delete: ['dynamodb:DeleteItem'],
};

const BUCKET_ACTIONS = { read: 's3:GetObject', write: 's3:PutObject', delete: 's3:DeleteObject' } as const;

/** The variable each queue's URL is given in. */
export const QUEUE_URL_VARIABLES: Record<QueueName, string> = {
  standard: 'QUEUE_URL',
  large: 'LARGE_QUEUE_URL',
  pages: 'PAGES_QUEUE_URL',
  webhookDeliveries: 'WEBHOOK_QUEUE_URL',
  batchJobs: 'BATCH_QUEUE_URL',
};

/**
 * What a run that ends a task may need for its `destination`: the writes, and
 * where a destination names a knowledge base, the batch's counts (BatchGet of
 * its counter items) to see it ended.
 */
const knowledgeBaseAccess = (config: DeploymentConfig): Pick<FunctionAccess, 'deliversToKnowledgeBases'> =>
  Object.keys(config.kbDestinations).length ? { deliversToKnowledgeBases: true } : {};

const syncsKnowledgeBases = (config: DeploymentConfig): boolean =>
  Object.values(config.kbDestinations).some((destination) => destination.knowledgeBaseId);

/** The transformation of a KB data source (`kbTransformation`): reads a task and its result, and the KB's batch files. */
export const kbTransformSpec = (config: DeploymentConfig): FunctionSpec | undefined =>
  config.kbTransformation
    ? {
        entry: 'knowledge-base/transform-handler.ts',
        description: "A knowledge base's post-chunking step: the service's chunks instead of the KB's",
        memoryMb: 1024,
        timeoutSeconds: KB_TRANSFORM_TIMEOUT_SECONDS,
        access: { table: ['get'], bucket: { read: [PREFIX.results] }, kbIntermediateBucket: true },
        environment: {},
        environmentSchema: kbTransformEnvironmentSchema,
      }
    : undefined;

/** The preview parses documents itself, in a sandbox: the upload function's size (on Lambda, memory is also CPU). */
const PREVIEW_MEMORY_MB = 1024;

export const functionCatalogue = (config: DeploymentConfig): FunctionCatalogue => {
  const api = (entry: string, description: string, access: FunctionAccess, memoryMb = 512): FunctionSpec => ({
    entry,
    description,
    memoryMb,
    timeoutSeconds: API_TIMEOUT_SECONDS,
    access,
    environment: apiEnvironment(config),
    environmentSchema: apiEnvironmentSchema,
  });
  const deliveriesRoute = (entry: string, description: string, access: FunctionAccess): FunctionSpec => ({
    entry,
    description,
    memoryMb: 256,
    timeoutSeconds: API_TIMEOUT_SECONDS,
    access,
    environment: deliveriesApiEnvironment(config),
    environmentSchema: deliveriesApiEnvironmentSchema,
  });
  const submits: readonly QueueName[] = ['standard', 'large'];
  // A direct upload reaches the large queue only when it may be larger than the large-input threshold.
  const directSubmits: readonly QueueName[] =
    config.largeInputThresholdMb < config.directUploadMaxMb ? submits : ['standard'];
  // A batch's counts are read (BatchGet) where a worker may start a knowledge base's sync.
  const workerTable: readonly TableAction[] = syncsKnowledgeBases(config)
    ? ['get', 'update', 'batchGet']
    : ['get', 'update'];
  const worker = (queueClass: 'standard' | 'large'): FunctionSpec => ({
    entry: 'consumers/worker.ts',
    description: `Processes documents from the ${queueClass} queue`,
    memoryMb: queueClass === 'large' ? config.largeWorkerMemoryMb : config.workerMemoryMb,
    timeoutSeconds: workerTimeoutSeconds(config, queueClass),
    access: {
      table: workerTable,
      bucket: {
        // With the result cache, a hit copies an earlier result (CopyObject reads its source).
        read: [PREFIX.uploads, PREFIX.direct, ...(config.resultCacheTtlHours > 0 ? [PREFIX.results] : [])],
        write: [PREFIX.results],
        delete: [PREFIX.results],
      },
      listBucket: true,
      sources: true,
      announces: true,
      decryptsSources: true,
      // A document with many pages to recognise goes to the page workers in parts.
      ...(config.ocrFanOutMinPages > 0 ? { sendsTo: ['pages'] as const } : {}),
      ...knowledgeBaseAccess(config),
      ...(config.figureModelId ? { describesFiguresWith: config.figureModelId } : {}),
    },
    environment: workerEnvironment(config, queueClass),
    environmentSchema: workerEnvironmentSchema,
  });
  return {
    upload: api(
      'api/upload.ts',
      'POST upload: multipart file',
      {
        table: ['get', 'put', 'delete'],
        bucket: { write: [PREFIX.direct], delete: [PREFIX.direct] },
        sendsTo: directSubmits,
      },
      1024,
    ),
    process: api('api/process.ts', 'POST process: URL or s3:// URI', {
      table: ['get', 'put', 'delete'],
      sources: true,
      checksSources: true,
      sendsTo: submits,
    }),
    uploadUrl: api('api/upload-url.ts', 'POST upload-url: presigned PUT', {
      // No delete: nothing is queued, so nothing is rolled back (a key claimed for a row that failed is taken over).
      table: ['get', 'put'],
      // The presigned PUT is made with this function's credentials.
      bucket: { write: [PREFIX.uploads] },
    }),
    getTask: api('api/get-task.ts', 'GET task status and result', {
      table: ['get'],
      bucket: { read: [PREFIX.results] },
    }),
    getFigure: api('api/get-figure.ts', 'GET figure: a presigned link to one stored figure', {
      table: ['get'],
      bucket: { read: [PREFIX.results] },
    }),
    listTasks: api('api/list-tasks.ts', 'GET tasks, newest first', { table: ['query'] }),
    cancelTask: api('api/cancel-task.ts', 'POST cancel', { table: ['get', 'update'], announces: true }),
    // It changes a status, so it announces: a retry sends what the task's outbox still holds (an event a dead
    // function left) rather than dropping it.
    retryTask: api('api/retry-task.ts', 'POST retry', { table: ['get', 'update'], sendsTo: submits, announces: true }),
    listDeliveries: deliveriesRoute('api/list-deliveries.ts', 'GET deliveries: the webhook delivery log of a task', {
      table: ['get'],
      deliveries: ['query'],
    }),
    // The consumer sends, and alone holds the secret: the route only queues the request.
    redeliver: deliveriesRoute('api/redeliver.ts', 'POST redeliver: one more webhook attempt', {
      table: ['get'],
      deliveries: ['get'],
      sendsTo: ['webhookDeliveries'],
    }),
    preview: {
      entry: 'api/preview.ts',
      description: 'POST preview: a small document processed at once',
      memoryMb: PREVIEW_MEMORY_MB,
      timeoutSeconds: API_TIMEOUT_SECONDS,
      // Nothing is stored: no table, no queue; of S3, only the sources it reads (like the workers, encrypted ones too).
      access: { sources: true, checksSources: true, decryptsSources: true },
      environment: previewEnvironment(config, PREVIEW_MEMORY_MB),
      environmentSchema: previewEnvironmentSchema,
    },
    createBatch: api('api/create-batch.ts', 'POST batches: many sources, or an S3 prefix', {
      // get: an Idempotency-Key's record and its batch (a replay answers the batch as it is now: batchGet);
      // delete: a batch whose first page cannot be queued is taken back.
      table: ['get', 'batchGet', 'put', 'delete'],
      bucket: { write: [PREFIX.batches], delete: [PREFIX.batches] },
      sources: true,
      checksSources: true,
      sendsTo: ['batchJobs'],
    }),
    getBatch: api('api/get-batch.ts', 'GET batch: status and counts', { table: ['get', 'batchGet'] }),
    listBatchTasks: api('api/list-batch-tasks.ts', 'GET batch tasks, in listing order', { table: ['get', 'query'] }),
    cancelBatch: api('api/cancel-batch.ts', 'POST batch cancel', {
      table: ['get', 'update', 'batchGet'],
      sendsTo: ['batchJobs'],
    }),
    retryBatch: api('api/retry-batch.ts', 'POST batch retry: its failed tasks again', {
      // update: the batch's one retry sweep is claimed on its head.
      table: ['get', 'update', 'batchGet'],
      sendsTo: ['batchJobs'],
    }),
    batchJobs: {
      entry: 'consumers/batch-jobs.ts',
      description: "Creates a batch's tasks page by page; cancels or retries them",
      memoryMb: 512,
      timeoutSeconds: BATCH_JOBS_TIMEOUT_SECONDS,
      access: {
        table: ['get', 'put', 'update', 'query'],
        bucket: { read: [PREFIX.batches] },
        listsSources: true,
        sendsTo: ['standard', 'large', 'batchJobs'],
        announces: true,
      },
      environment: batchJobsEnvironment(config),
      environmentSchema: batchJobsEnvironmentSchema,
    },
    worker: worker('standard'),
    largeWorker: worker('large'),
    // The same code as the workers (one bundle), fed by the pages queue: one part of a fanned-out document each.
    pageWorker: {
      entry: 'consumers/worker.ts',
      description: 'Reads the parts of documents with many pages to recognise, and puts them together',
      memoryMb: config.pageWorkerMemoryMb,
      timeoutSeconds: workerTimeoutSeconds(config, 'standard'),
      access: {
        table: workerTable,
        bucket: {
          // The input where the run found it (or its copy under results/), the parts, the result.
          read: [PREFIX.uploads, PREFIX.direct, PREFIX.results],
          write: [PREFIX.results],
          delete: [PREFIX.results],
        },
        listBucket: true,
        sources: true,
        announces: true,
        decryptsSources: true,
        ...knowledgeBaseAccess(config),
        // The part that ends a document puts it together, and describes its figures.
        ...(config.figureModelId ? { describesFiguresWith: config.figureModelId } : {}),
      },
      environment: pageWorkerEnvironment(config),
      environmentSchema: workerEnvironmentSchema,
    },
    deadLetters: {
      entry: 'consumers/dead-letters.ts',
      description: 'Marks dead-lettered tasks FAILURE',
      memoryMb: 256,
      timeoutSeconds: DEAD_LETTERS_TIMEOUT_SECONDS,
      access: { table: ['get', 'update'], announces: true },
      environment: deadLettersEnvironment(config),
      environmentSchema: deadLettersEnvironmentSchema,
    },
    uploadEvents: {
      entry: 'consumers/upload-events.ts',
      description: config.dropFolder
        ? 'Starts tasks when presigned uploads land, and makes tasks of objects dropped in inbox/'
        : 'Starts tasks when presigned uploads land',
      memoryMb: 256,
      timeoutSeconds: UPLOAD_EVENTS_TIMEOUT_SECONDS,
      access: config.dropFolder
        ? {
            // The drop folder creates tasks (a row, rolled back when queueing fails) from what a HEAD of the
            // object says (ListBucket: a key deleted since reads as missing, not refused).
            table: ['get', 'put', 'update', 'delete'],
            bucket: { read: [PREFIX.inbox] },
            listBucket: true,
            sendsTo: submits,
            announces: true,
          }
        : { table: ['get', 'update'], sendsTo: submits, announces: true },
      environment: uploadEventsEnvironment(config),
      environmentSchema: uploadEventsEnvironmentSchema,
    },
    janitor: {
      entry: 'consumers/janitor.ts',
      description: 'Expires abandoned uploads, requeues lost tasks',
      memoryMb: 256,
      timeoutSeconds: JANITOR_TIMEOUT_SECONDS,
      access: {
        // get: a batch child's change is counted on its batch's counter item (read, then a conditional update).
        table: ['get', 'query', 'update'],
        bucket: { read: [PREFIX.uploads] },
        listBucket: true,
        sendsTo: submits,
        announces: true,
      },
      environment: janitorEnvironment(config),
      environmentSchema: janitorEnvironmentSchema,
    },
    webhookDeliveries: {
      entry: 'consumers/webhook-deliveries.ts',
      description: 'Sends signed webhooks to callback URLs, with retries',
      memoryMb: 256,
      timeoutSeconds: WEBHOOK_DELIVERIES_TIMEOUT_SECONDS,
      access: {
        // The task row: its callback URL and result; the result's link is presigned with this function's role.
        table: ['get'],
        bucket: { read: [PREFIX.results] },
        deliveries: ['get', 'put', 'update'],
        // Its own retries.
        sendsTo: ['webhookDeliveries'],
        readsWebhookSecret: true,
      },
      environment: {},
      environmentSchema: webhookDeliveriesEnvironmentSchema,
    },
  };
};

/** Where a function's resources are: names for its environment, ARNs for its policy (CloudFormation tokens in the CDK). */
export interface FunctionResources {
  partition: string;
  tableName: string;
  tableArn: string;
  bucketName: string;
  bucketArn: string;
  queues: Record<QueueName, { url: string; arn: string }>;
  /** The bus status changes are announced on. */
  eventBus: { name: string; arn: string };
  deliveriesTableName: string;
  deliveriesTableArn: string;
  /** The complete ARN of the webhook signing secret (with Secrets Manager's suffix). */
  webhookSecretArn: string;
  /** `sourcePrefixes`, `allowedSourceBuckets` and `sourceKmsKeyArns` of the configuration. */
  sources: Pick<DeploymentConfig, 'sourcePrefixes' | 'allowedSourceBuckets' | 'sourceKmsKeyArns'>;
  /** Where the stack runs, for the ARNs of knowledge bases. */
  region: string;
  account: string;
  /** `kbDestinations` of the configuration. */
  destinations: KbDestinations;
  /** The KB's intermediate bucket, where the transformation is deployed. */
  kbIntermediateBucket?: { name: string; arn: string } | undefined;
}

/** One IAM Allow statement. */
export interface PolicyStatementSpec {
  actions: string[];
  resources: string[];
  /** IAM conditions, as a policy document writes them (`{ StringLike: { 's3:prefix': [...] } }`). */
  conditions?: Record<string, Record<string, string[]>>;
}

const locationsOf = (resources: FunctionResources): SourceLocation[] =>
  sourceLocations(resources.bucketName, resources.sources);

const bucketArnOf = (resources: FunctionResources, bucket: string) =>
  bucket === resources.bucketName ? resources.bucketArn : `arn:${resources.partition}:s3:::${bucket}`;

/** The queues a function sends to: those it names, and the webhook deliveries of what it announces. */
const queuesSentTo = (access: FunctionAccess): QueueName[] => [
  ...new Set<QueueName>([...(access.sendsTo ?? []), ...(access.announces ? (['webhookDeliveries'] as const) : [])]),
];

/** The environment variables `access` gives a function: the names of what it may touch. */
export const accessEnvironment = (access: FunctionAccess, resources: FunctionResources): Record<string, string> => ({
  ...(access.table?.length ? { TABLE_NAME: resources.tableName } : {}),
  ...(access.bucket || access.listBucket ? { BUCKET_NAME: resources.bucketName } : {}),
  ...(access.checksSources ? { SOURCE_LOCATIONS: formatSourceLocations(locationsOf(resources)) } : {}),
  ...(access.deliveries?.length ? { DELIVERIES_TABLE_NAME: resources.deliveriesTableName } : {}),
  ...(access.readsWebhookSecret ? { WEBHOOK_SECRET_ARN: resources.webhookSecretArn } : {}),
  ...(access.announces ? { EVENT_BUS_NAME: resources.eventBus.name } : {}),
  ...(access.kbIntermediateBucket && resources.kbIntermediateBucket
    ? { KB_INTERMEDIATE_BUCKET: resources.kbIntermediateBucket.name }
    : {}),
  ...Object.fromEntries(queuesSentTo(access).map((queue) => [QUEUE_URL_VARIABLES[queue], resources.queues[queue].url])),
});

/** The function's IAM policy, beyond logs and tracing: exactly what `access` names. */
export const accessStatements = (access: FunctionAccess, resources: FunctionResources): PolicyStatementSpec[] => {
  const statements: PolicyStatementSpec[] = [];
  const itemActions = (access.table ?? []).filter((action) => action !== 'query');
  if (itemActions.length) {
    statements.push({
      actions: [...new Set(itemActions.flatMap((action) => TABLE_ACTIONS[action]))],
      resources: [resources.tableArn],
    });
  }
  // Every query goes through an index: the base table is only ever read by key.
  if (access.table?.includes('query')) {
    statements.push({ actions: TABLE_ACTIONS.query.slice(), resources: [`${resources.tableArn}/index/*`] });
  }
  for (const kind of ['read', 'write', 'delete'] as const) {
    const prefixes = access.bucket?.[kind] ?? [];
    if (prefixes.length) {
      statements.push({
        actions: [BUCKET_ACTIONS[kind]],
        resources: prefixes.map((prefix) => `${resources.bucketArn}/${prefix}*`),
      });
    }
  }
  const listed = new Set<string>(access.listBucket ? [resources.bucketArn] : []);
  if (access.sources) {
    const locations = locationsOf(resources);
    if (locations.length) {
      statements.push({
        actions: ['s3:GetObject'],
        resources: locations.map(({ bucket, prefix }) => `${bucketArnOf(resources, bucket)}/${prefix}*`),
      });
      for (const { bucket } of locations) listed.add(bucketArnOf(resources, bucket));
    }
  }
  if (listed.size) statements.push({ actions: ['s3:ListBucket'], resources: [...listed] });
  if (access.listsSources) {
    // One statement per bucket: each bucket's listings only under its own readable prefixes.
    const byBucket = new Map<string, string[]>();
    for (const { bucket, prefix } of locationsOf(resources)) {
      byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), `${prefix}*`]);
    }
    for (const [bucket, prefixes] of byBucket) {
      statements.push({
        actions: ['s3:ListBucket'],
        resources: [bucketArnOf(resources, bucket)],
        conditions: { StringLike: { 's3:prefix': prefixes } },
      });
    }
  }
  if (access.decryptsSources && resources.sources.sourceKmsKeyArns.length) {
    statements.push({ actions: ['kms:Decrypt'], resources: [...resources.sources.sourceKmsKeyArns] });
  }
  if (access.announces) statements.push({ actions: ['events:PutEvents'], resources: [resources.eventBus.arn] });
  const queues = queuesSentTo(access);
  if (queues.length) {
    statements.push({
      actions: ['sqs:SendMessage'],
      resources: queues.map((queue) => resources.queues[queue].arn),
    });
  }
  if (access.deliveries?.length) {
    statements.push({
      actions: [...new Set(access.deliveries.flatMap((action) => TABLE_ACTIONS[action]))],
      resources: [resources.deliveriesTableArn],
    });
  }
  if (access.readsWebhookSecret) {
    statements.push({ actions: ['secretsmanager:GetSecretValue'], resources: [resources.webhookSecretArn] });
  }
  if (access.deliversToKnowledgeBases) statements.push(...knowledgeBaseStatements(resources));
  if (access.describesFiguresWith) statements.push(modelStatement(resources, access.describesFiguresWith));
  if (access.kbIntermediateBucket && resources.kbIntermediateBucket) {
    const { arn } = resources.kbIntermediateBucket;
    statements.push({ actions: ['s3:GetObject', 's3:PutObject'], resources: [`${arn}/*`] });
  }
  return statements;
};

/** Inference profiles are named by a geography before the model id (`us.`, `eu.`, `apac.`, `global.`…). */
const INFERENCE_PROFILE = /^(?:us|eu|apac|us-gov|global|ca|jp|au)\.(.+)$/;

/**
 * Converse with the figure model: the foundation model's ARN; for an
 * inference profile, the profile and the model in every region it routes to.
 */
const modelStatement = (resources: FunctionResources, modelId: string): PolicyStatementSpec => {
  const profile = INFERENCE_PROFILE.exec(modelId);
  const bedrock = `arn:${resources.partition}:bedrock`;
  return {
    actions: ['bedrock:InvokeModel'],
    resources: profile
      ? [
          `${bedrock}:${resources.region}:${resources.account}:inference-profile/${modelId}`,
          `${bedrock}:*::foundation-model/${profile[1] as string}`,
        ]
      : [`${bedrock}:${resources.region}::foundation-model/${modelId}`],
  };
};

/** A destination's writes, and the syncs of the knowledge bases destinations name. */
const knowledgeBaseStatements = (resources: FunctionResources): PolicyStatementSpec[] => {
  const destinations = Object.values(resources.destinations);
  const statements: PolicyStatementSpec[] = [];
  if (destinations.length) {
    // Delete: a run whose task was cancelled while it delivered takes its two objects back.
    statements.push({
      actions: ['s3:PutObject', 's3:DeleteObject'],
      resources: [...new Set(destinations.map(({ bucket, prefix }) => `${bucketArnOf(resources, bucket)}/${prefix}*`))],
    });
  }
  const keys = [...new Set(destinations.flatMap(({ kmsKeyArn }) => (kmsKeyArn ? [kmsKeyArn] : [])))];
  if (keys.length) statements.push({ actions: ['kms:GenerateDataKey'], resources: keys });
  const bases = [...new Set(destinations.flatMap(({ knowledgeBaseId }) => (knowledgeBaseId ? [knowledgeBaseId] : [])))];
  if (bases.length) {
    statements.push({
      actions: ['bedrock:StartIngestionJob'],
      resources: bases.map(
        (id) => `arn:${resources.partition}:bedrock:${resources.region}:${resources.account}:knowledge-base/${id}`,
      ),
    });
  }
  return statements;
};
