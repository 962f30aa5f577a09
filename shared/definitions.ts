/**
 * Definitions the runtime (lambdas/), the infrastructure (lib/) and the
 * embedded stack (local/) all read, so that they cannot drift: key schema,
 * indexes, TTL, key prefixes, routes, timeouts, how queue settings follow
 * from them, metric names. Plain data: no CDK, no AWS SDK.
 */
/** Timeouts of the queue consumers; each queue's visibility timeout is derived from its consumer's. */
export const UPLOAD_EVENTS_TIMEOUT_SECONDS = 30;
export const API_TIMEOUT_SECONDS = 29;
export const DEAD_LETTERS_TIMEOUT_SECONDS = 30;
export const JANITOR_TIMEOUT_SECONDS = 120;
/** A batch of webhook deliveries: each POST may take WEBHOOK_DELIVERY.requestTimeoutMs. */
export const WEBHOOK_DELIVERIES_TIMEOUT_SECONDS = 60;
/** One page of a batch (a thousand children created, cancelled or retried), with room for slow writes. */
export const BATCH_JOBS_TIMEOUT_SECONDS = 300;
/** A knowledge base's transformation call: Bedrock waits at most 15 minutes for it. */
export const KB_TRANSFORM_TIMEOUT_SECONDS = 300;

export const TABLE = {
  partitionKey: 'pk',
  ttlAttribute: 'ttl',
  /** `owner#status` on every task row, kept with each status change, so one caller's tasks list by status. */
  ownerStatusAttribute: 'owner_status',
  indexes: {
    /** A caller's tasks, newest first. */
    byOwner: { name: 'by_owner', partitionKey: 'owner', sortKey: 'created_at', projection: 'ALL' },
    /** A caller's tasks in one status, newest first. */
    byOwnerStatus: { name: 'by_owner_status', partitionKey: 'owner_status', sortKey: 'created_at', projection: 'ALL' },
    /** Every task in one status, oldest first (the janitor). */
    byStatus: { name: 'by_status', partitionKey: 'status', sortKey: 'created_at', projection: 'ALL' },
    /**
     * Tasks with events not yet sent, oldest first (the janitor sends what a
     * dead function left). Sparse: only such rows carry its keys.
     */
    // Keys only: every announced change writes this index and the acknowledgement removes it again, so
    // it holds no copy of the row (the sweep reads the few rows it finds).
    byPendingEvents: {
      name: 'by_pending_events',
      partitionKey: 'outbox_shard',
      sortKey: 'outbox_since',
      projection: 'KEYS_ONLY',
    },
    /**
     * A batch's children in the order they were listed (batch routes, cancel
     * and retry of a batch). Sparse: only children of a batch carry its keys.
     */
    byBatch: { name: 'by_batch', partitionKey: 'batch_id', sortKey: 'batch_position', projection: 'ALL' },
  },
  /** The one partition of `by_pending_events`: it holds only rows whose events are in flight, a handful at a time. */
  pendingEventsShard: 'pending',
} as const;

/** Object key prefixes in the bucket. */
export const PREFIX = {
  /** Presigned PUTs land here; ObjectCreated on it starts the task. */
  uploads: 'uploads/',
  /** Files uploaded through the API itself. */
  direct: 'direct/',
  results: 'results/',
  /** Where operators put documents to process by `s3://` URI (the default readable prefix). */
  inbox: 'inbox/',
  /** The source lists of batches (`batches/{id}/sources.json`). */
  batches: 'batches/',
} as const;

/** Prefixes the service writes itself: never readable as `s3://` sources (they hold other callers' files). */
export const SERVICE_PREFIXES: readonly string[] = [PREFIX.uploads, PREFIX.direct, PREFIX.results, PREFIX.batches];

/**
 * The key prefixes whose ObjectCreated events S3 sends to the upload-events
 * queue (the bucket's notifications in the CDK stack, the emulator's in the
 * embedded one): presigned uploads, and the drop folder when it is on.
 */
export const objectCreatedPrefixes = (settings: { dropFolder: boolean }): string[] => [
  PREFIX.uploads,
  ...(settings.dropFolder ? [PREFIX.inbox] : []),
];

/**
 * A place `s3://` sources may be read from: a bucket and a key prefix ('' for
 * the whole bucket). The one definition behind both the submit-time check
 * and the IAM grants of the functions that read sources.
 */
export interface SourceLocation {
  bucket: string;
  prefix: string;
}

export const sourceLocations = (
  serviceBucket: string,
  settings: { sourcePrefixes: readonly string[]; allowedSourceBuckets: readonly string[] },
): SourceLocation[] => [
  ...settings.sourcePrefixes.map((prefix) => ({ bucket: serviceBucket, prefix })),
  ...settings.allowedSourceBuckets.map((entry) => {
    const slash = entry.indexOf('/');
    return slash === -1
      ? { bucket: entry, prefix: '' }
      : { bucket: entry.slice(0, slash), prefix: entry.slice(slash + 1) };
  }),
];

/** As one environment variable: `bucket/prefix,bucket/prefix` (the bucket may be a CloudFormation token). */
export const formatSourceLocations = (locations: readonly SourceLocation[]): string =>
  locations.map(({ bucket, prefix }) => `${bucket}/${prefix}`).join(',');

export const parseSourceLocations = (value: string): SourceLocation[] =>
  value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const slash = entry.indexOf('/');
      return { bucket: entry.slice(0, slash), prefix: entry.slice(slash + 1) };
    });

export const isReadableSource = (locations: readonly SourceLocation[], bucket: string, key: string): boolean =>
  locations.some(
    (location) => location.bucket === bucket && key.startsWith(location.prefix) && key.length > location.prefix.length,
  );

/** The document API's base path (API.md): every route is under it but the preview. */
export const API_BASE_PATH = 'documents/async';
/** `POST /documents/preview`: the document API's synchronous sibling. */
export const PREVIEW_PATH = 'documents/preview';

/**
 * Answers API Gateway gives itself, the same in the CDK stack (gateway
 * responses) and the local gateway. A direct upload between about 4.5 and
 * 10 MB passes the gateway's 10 MB limit but not Lambda's 6 MB invoke
 * payload (the body travels base64-encoded): API Gateway then answers with
 * its REQUEST_TOO_LARGE response, which says what to do instead.
 */
export const GATEWAY_RESPONSES = {
  requestTooLarge: {
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    message:
      'The request is larger than this API accepts directly (files above about 4 MB). Request a presigned URL with POST /documents/async/upload-url and PUT the file there.',
  },
} as const;

export type RouteHandler =
  | 'upload'
  | 'process'
  | 'uploadUrl'
  | 'getTask'
  | 'getFigure'
  | 'listTasks'
  | 'cancelTask'
  | 'retryTask'
  | 'listDeliveries'
  | 'redeliver'
  | 'preview'
  | 'createBatch'
  | 'getBatch'
  | 'listBatchTasks'
  | 'cancelBatch'
  | 'retryBatch';

/** Every route of API.md, from the root of the API's stage. */
export const ROUTES: ReadonlyArray<{ method: 'GET' | 'POST'; path: string; handler: RouteHandler }> = [
  { method: 'POST', path: `${API_BASE_PATH}/upload`, handler: 'upload' },
  { method: 'POST', path: `${API_BASE_PATH}/process`, handler: 'process' },
  { method: 'POST', path: `${API_BASE_PATH}/upload-url`, handler: 'uploadUrl' },
  { method: 'GET', path: `${API_BASE_PATH}/tasks`, handler: 'listTasks' },
  { method: 'GET', path: `${API_BASE_PATH}/tasks/{task_id}`, handler: 'getTask' },
  { method: 'GET', path: `${API_BASE_PATH}/tasks/{task_id}/figures/{figure_id}`, handler: 'getFigure' },
  { method: 'POST', path: `${API_BASE_PATH}/tasks/{task_id}/cancel`, handler: 'cancelTask' },
  { method: 'POST', path: `${API_BASE_PATH}/tasks/{task_id}/retry`, handler: 'retryTask' },
  { method: 'GET', path: `${API_BASE_PATH}/tasks/{task_id}/deliveries`, handler: 'listDeliveries' },
  {
    method: 'POST',
    path: `${API_BASE_PATH}/tasks/{task_id}/deliveries/{delivery_id}/redeliver`,
    handler: 'redeliver',
  },
  { method: 'POST', path: PREVIEW_PATH, handler: 'preview' },
  { method: 'POST', path: `${API_BASE_PATH}/batches`, handler: 'createBatch' },
  { method: 'GET', path: `${API_BASE_PATH}/batches/{batch_id}`, handler: 'getBatch' },
  { method: 'GET', path: `${API_BASE_PATH}/batches/{batch_id}/tasks`, handler: 'listBatchTasks' },
  { method: 'POST', path: `${API_BASE_PATH}/batches/{batch_id}/cancel`, handler: 'cancelBatch' },
  { method: 'POST', path: `${API_BASE_PATH}/batches/{batch_id}/retry`, handler: 'retryBatch' },
];

/**
 * Batches: a list of sources, or an S3 prefix of any size, as ordinary
 * tasks. A page is what one invocation of the batch-jobs function does (one
 * ListObjectsV2 page; a thousand listed sources); its children's counts are
 * kept on `shardsPerPage` counter items, so that no item is written by more
 * than a sixteenth of a page's children and none grows past a few KB.
 */
export const BATCH = {
  maxSources: 1000,
  pageSize: 1000,
  shardsPerPage: 16,
  /** Children cancelled or retried per invocation (one query page). */
  sweepPageSize: 200,
  /** Children created at once within a page. */
  createConcurrency: 16,
  /** Pages worked on at once (the batch-jobs function's concurrency): a listing never floods the table. */
  jobsConcurrency: 4,
} as const;

/**
 * What `POST /documents/preview` takes: it answers within one request, so its
 * input is capped (larger documents go to the asynchronous routes), and its
 * fetch and processing stop at a deadline well inside API Gateway's 29 s
 * (API_TIMEOUT_SECONDS), leaving a cold start and the response the rest: a
 * slow document is a typed failure, never the gateway's bare 504.
 */
export const PREVIEW_LIMITS = {
  maxInputBytes: 2 * 1024 * 1024,
  /** PDFs with more pages fail with DOCUMENT_TOO_LARGE. */
  maxPages: 20,
  timeBudgetMs: 20_000,
} as const;

export interface QueueSettings {
  /** SQS visibility timeout: at least six times the worker's timeout (AWS's advice for Lambda triggers). */
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
  retentionSeconds: number;
  deadLettersRetentionSeconds: number;
  /** The DLQs' visibility timeout: six times their consumer's timeout too. */
  deadLettersVisibilityTimeoutSeconds: number;
  /** Long polling. */
  receiveWaitSeconds: number;
}

export const queueSettings = (workerTimeoutSeconds: number, maxReceiveCount: number): QueueSettings => ({
  visibilityTimeoutSeconds: 6 * workerTimeoutSeconds,
  maxReceiveCount,
  retentionSeconds: 4 * 24 * 3600,
  deadLettersRetentionSeconds: 14 * 24 * 3600,
  deadLettersVisibilityTimeoutSeconds: 6 * DEAD_LETTERS_TIMEOUT_SECONDS,
  receiveWaitSeconds: 20,
});

/** Custom metrics the Lambdas publish (EMF) and the dashboard and alarms read. */
export const METRIC_NAMES = {
  submitted: 'TasksSubmitted',
  started: 'TasksStarted',
  succeeded: 'TasksSucceeded',
  failed: 'TasksFailed',
  revoked: 'TasksRevoked',
  queueWait: 'QueueWait',
  processingDuration: 'ProcessingDuration',
  pages: 'PagesProcessed',
  /** Pages read by a task that succeeded, by their grade (`Grade`: good, fair, poor). */
  pagesGraded: 'PagesGraded',
  bytes: 'BytesProcessed',
  documents: 'DocumentsProduced',
  /** A webhook delivery answered 2xx (each delivery counts once, redeliveries aside). */
  webhookDelivered: 'WebhookDeliveriesSucceeded',
  /** A webhook delivery given up after 24 h of retries. */
  webhookFailed: 'WebhookDeliveriesFailed',
  /** A status change's event could not be sent at once (the janitor's sweep sends it later). */
  eventsUnsent: 'EventsUnsent',
  /** A run served from the result cache, without parsing. */
  resultCacheHits: 'ResultCacheHits',
  /** A run that looked in the result cache and found nothing usable. */
  resultCacheMisses: 'ResultCacheMisses',
} as const;

/** The `service` dimension Powertools adds to every custom metric. */
export const SERVICE_NAME = 'docproc';

export type MetricName = (typeof METRIC_NAMES)[keyof typeof METRIC_NAMES];

/**
 * The dimensions each custom metric is published with, besides `service`
 * (lambdas/observability.ts; a test reads what it emits). An alarm or a graph
 * on other dimensions would watch a metric that never has data.
 */
export const METRIC_DIMENSIONS: Record<MetricName, readonly string[]> = {
  TasksSubmitted: ['SourceType'],
  TasksFailed: ['ErrorCode'],
  TasksStarted: [],
  TasksSucceeded: [],
  TasksRevoked: [],
  QueueWait: [],
  ProcessingDuration: [],
  PagesProcessed: [],
  PagesGraded: ['Grade'],
  BytesProcessed: [],
  DocumentsProduced: [],
  WebhookDeliveriesSucceeded: [],
  WebhookDeliveriesFailed: [],
  EventsUnsent: [],
  ResultCacheHits: [],
  ResultCacheMisses: [],
};

/**
 * `GET tasks/{id}?wait=N`: the longest wait (well inside API Gateway's 29 s),
 * and the pauses between reads: doubling from the first to the last, so a
 * task that finishes at once is answered at once, and a long wait costs about
 * one read a second (24 for 20 s), never a hot loop.
 */
export const LONG_POLL = { maxWaitSeconds: 20, firstPauseMs: 100, maxPauseMs: 1000 } as const;

/** The webhook delivery log: one item per event sent to a task's callback_url, kept as long as its task. */
export const DELIVERIES_TABLE = { partitionKey: 'task_id', sortKey: 'delivery_id', ttlAttribute: 'ttl' } as const;

/**
 * How webhooks are sent (Standard Webhooks). An attempt that fails (non-2xx,
 * timeout, connection error, refused address) is tried again after the next
 * delay of `retryDelaysSeconds`, then every `thenEverySeconds`, each delay
 * stretched by up to `jitterRatio` so that a receiver coming back up is not
 * hit by every retry at once; no attempt is made later than `giveUpAfterSeconds`
 * after the event, and the delivery is then `failed`. SQS delays a message by
 * `maxQueueDelaySeconds` at most: a longer wait is that many hops.
 */
export const WEBHOOK_DELIVERY = {
  requestTimeoutMs: 10_000,
  retryDelaysSeconds: [5, 30, 120, 600, 1800, 3600],
  thenEverySeconds: 7200,
  jitterRatio: 0.2,
  giveUpAfterSeconds: 24 * 3600,
  maxQueueDelaySeconds: 900,
  /** How long the consumer keeps the signing secret before reading it again, so a rotation is picked up. */
  secretCacheSeconds: 60,
  /** Records per consumer invocation: each may wait `requestTimeoutMs`, within WEBHOOK_DELIVERIES_TIMEOUT_SECONDS. */
  batchSize: 5,
} as const;
