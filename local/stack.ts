import { randomBytes } from 'node:crypto';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoTaskStore } from '../lambdas/adapters/dynamo-task-store.js';
import { SqsJobQueue } from '../lambdas/adapters/sqs-job-queue.js';
import { DEFAULT_LIMITS } from '../lambdas/documents/limits.js';
import { systemClock } from '../lambdas/core/ports.js';
import { recoverUnfinished } from '../lambdas/core/lifecycle.js';
import { bytes, parseDeploymentConfig, type DeploymentConfig } from '../lib/config.js';
import {
  API_BASE_PATH,
  objectCreatedPrefixes,
  PREVIEW_PATH,
  queueSettings,
  UPLOAD_EVENTS_TIMEOUT_SECONDS,
  WEBHOOK_DELIVERIES_TIMEOUT_SECONDS,
  BATCH,
  BATCH_JOBS_TIMEOUT_SECONDS,
  WEBHOOK_DELIVERY,
} from '../shared/definitions.js';
import type { FunctionName, FunctionResources, PolicyStatementSpec } from '../lib/function-catalogue.js';
import { workerTimeoutSeconds } from '../lib/function-environment.js';
import { startGateway } from './api-gateway.js';
import { startEmulators, type EmulatorServers } from './emulators.js';
import { SqsEventSource } from './event-source.js';
import { localBundles } from './bundles.js';
import {
  localEntries,
  localFunctions,
  type FaultSpec,
  type LocalServiceFunction,
  type LocalTiming,
} from './functions.js';
import type { IamNotice } from './iam.js';
import { FunctionRuntime } from './lambda-runtime.js';
import { monitorRoutes, recentBatches } from './monitor.js';
import { startLocalEventBusThread, type BusEvent } from './event-bus.js';
import { evaluateAlarm, LocalMetrics, type AlarmState, type MetricKey } from './metrics.js';
import { alarmSpecs, type MetricSource } from '../lib/alarms.js';
import { SERVICE_NAME } from '../shared/definitions.js';
import { createBucket, createDeliveriesTable, createQueuePair, createTaskTable, type QueuePair } from './provision.js';
import { startSecretsManager } from './secrets-manager.js';
import { startLocalKnowledgeBases, type LocalIngestionJob } from './knowledge-bases.js';

export interface LocalStackOptions {
  port?: number;
  host?: string;
  /** Keep task rows and stored objects here, written as they change, across restarts. */
  dataDir?: string | undefined;
  /** The S3 (and SQS) emulator's port, for S3 clients told it in advance (the drop folder). Default: any free one. */
  s3Port?: number | undefined;
  /** Require one of these `x-api-key` values, as the deployed API does; each key owns its tasks. Default: none. */
  apiKeys?: readonly string[] | undefined;
  /** The webhook signing secret: `whsec_<base64>` secrets, space-separated. Default: a new one (`webhookSecret`). */
  webhookSecret?: string | undefined;
  /** Let URL sources point at loopback addresses. For tests with a local fixture server only. */
  allowPrivateUrls?: boolean;
  /** Deployment configuration overrides (the same keys as cdk.json). */
  config?: Record<string, unknown>;
  /**
   * Test knobs, beyond what a deployment allows, so that redelivery, leases
   * and the DLQ can be seen in seconds: worker timeout and soft-limit margin,
   * the queues' visibility timeout, and the lease margin.
   */
  timing?: LocalTiming;
  faults?: FaultSpec;
  /** The benchmark's baseline only: workers process documents without their sandbox. */
  unsandboxed?: boolean;
  /**
   * Start one execution environment of every function at once, in the background (`warm()` waits for them),
   * instead of at each function's first invocation. `npm start` and the bench do; tests need not.
   */
  prewarm?: boolean;
  /** Tests only: change the policy a function's calls are checked against (remove a grant, as an edited role would). */
  adjustPolicy?: (name: FunctionName, policy: PolicyStatementSpec[]) => PolicyStatementSpec[];
  /** How long `stop()` lets invocations under way finish before it stops them. Default 5 s. */
  stopGraceMs?: number;
  log?: (line: string) => void;
}

export interface LocalStack {
  /** Base URL of the server (`http://localhost:8000`). */
  url: string;
  /** Base URL of the document API (`…/documents/async`). */
  apiUrl: string;
  /** `POST /documents/preview`. */
  previewUrl: string;
  config: DeploymentConfig;
  queues: Record<'standard' | 'large' | 'pages' | 'uploadEvents' | 'webhookDeliveries' | 'batchJobs', QueuePair>;
  bucketName: string;
  /** The S3 emulator, for any S3 client (path-style, credentials `local`/`local`). */
  s3Endpoint: string;
  tableName: string;
  /** The webhook delivery log. */
  deliveriesTableName: string;
  /** What webhooks are signed with (given, or generated at start). */
  webhookSecret: string;
  clients: { s3: S3Client; sqs: SQSClient; dynamo: DynamoDBDocumentClient };
  functions: Record<FunctionName, LocalServiceFunction>;
  /** Invocations under way, per queue consumer. */
  busy(): Record<string, number>;
  /** Faults injected so far (tests). */
  faults: string[];
  /**
   * What the functions' IAM checks saw: each grant used (`function statement action resource`, with the
   * statement's index and the action and resource patterns that allowed the call), each call refused.
   */
  iam: { used: Set<string>; denied: Array<Extract<IamNotice, { iam: 'denied' }>> };
  /**
   * Resolves once one environment of every function has started (see `prewarm`), or, with `all`, as many
   * as each may run at once (the bench measures the pipeline warm).
   */
  warm(all?: boolean): Promise<void>;
  /** What CloudWatch would have recorded (see metrics.ts). */
  metrics: LocalMetrics;
  /** The service's alarms (lib/alarms.ts), evaluated now over the local metrics. */
  alarms(): Promise<AlarmState[]>;
  /** What the functions put on the event bus, oldest first (also at `GET /_local/events`). */
  busEvents(): BusEvent[];
  /** The knowledge-base syncs the functions started (the local Bedrock Agent API records them: knowledge-bases.ts). */
  ingestionJobs(): LocalIngestionJob[];
  /** Invokes a function directly, as a schedule or `aws lambda invoke` would (tests run the janitor now). */
  invoke(name: FunctionName, event: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

const NAMES = {
  deliveries: 'docproc-webhook-deliveries',
  webhookSecret: 'docproc-webhook-secret',
  table: 'docproc-tasks',
  bucket: 'docproc-documents',
  eventBus: 'docproc-tasks',
} as const;
/** The REST API's name, which API Gateway's metrics are by (the CDK stack's is `<stack name>-api`). */
const LOCAL_API_NAME = 'docproc-api';
const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * The whole service on one machine, no Docker, no AWS account: the
 * emulators (on their own thread), the resources the CDK stack defines (from
 * the same definitions), every function of the catalogue in execution
 * environments of its own (worker threads), the API behind a local API
 * Gateway, and the queue consumers behind local event source mappings.
 */
export const startLocalStack = async (options: LocalStackOptions = {}): Promise<LocalStack> => {
  const log = options.log ?? (() => {});
  const config = parseDeploymentConfig({ apiAuth: options.apiKeys?.length ? 'apiKey' : 'none', ...options.config });
  const timing = options.timing ?? {};
  const settings = (consumerTimeoutSeconds: number) => ({
    ...queueSettings(consumerTimeoutSeconds, config.maxReceiveCount),
    ...(timing.visibilityTimeoutSeconds === undefined
      ? {}
      : { visibilityTimeoutSeconds: timing.visibilityTimeoutSeconds }),
  });
  const emulators: EmulatorServers = await startEmulators({
    host: '127.0.0.1',
    awsPort: options.s3Port,
    dataDir: options.dataDir,
    // S3 takes what the configuration lets through: presigned uploads, and the largest result.
    bodyLimitBytes: Math.max(bytes(config.presignedUploadMaxMb), DEFAULT_LIMITS.maxResultBytes) + 1024 * 1024,
    warn: log,
  });
  const eventBus = await startLocalEventBusThread({ busNames: [NAMES.eventBus] });
  // Receivers verify with it: print it (bin/local.ts) or pass the one they hold.
  const webhookSecret = options.webhookSecret ?? `whsec_${randomBytes(32).toString('base64')}`;
  const webhookSecretArn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${NAMES.webhookSecret}-local1`;
  const secretsManager = await startSecretsManager('127.0.0.1', [
    { arn: webhookSecretArn, name: NAMES.webhookSecret, value: webhookSecret },
  ]);
  const knowledgeBases = await startLocalKnowledgeBases('127.0.0.1');
  const endpoints = {
    secretsManager: secretsManager.url,
    bedrockAgent: knowledgeBases.url,
    region: REGION,
    credentials: CREDENTIALS,
    s3: emulators.awsEndpoint,
    // The SDK sends SQS calls to the queue URL's host; naming the endpoint the same way keeps it quiet about it.
    sqs: emulators.awsEndpoint.replace('127.0.0.1', `sqs.${REGION}.localhost`),
    dynamodb: emulators.dynamoEndpoint,
    events: eventBus.endpoint,
  };
  const s3 = new S3Client({ endpoint: endpoints.s3, region: REGION, credentials: CREDENTIALS, forcePathStyle: true });
  const sqs = new SQSClient({ endpoint: emulators.awsEndpoint, region: REGION, credentials: CREDENTIALS });
  const rawDynamo = new DynamoDBClient({ endpoint: endpoints.dynamodb, region: REGION, credentials: CREDENTIALS });
  const dynamo = DynamoDBDocumentClient.from(rawDynamo, { marshallOptions: { removeUndefinedValues: true } });

  const { TableNames } = await rawDynamo.send(new ListTablesCommand({}));
  if (!TableNames?.includes(NAMES.table)) await createTaskTable(rawDynamo, NAMES.table);
  if (!TableNames?.includes(NAMES.deliveries)) await createDeliveriesTable(rawDynamo, NAMES.deliveries);
  await createBucket(s3, NAMES.bucket);
  // Knowledge-base destinations' buckets, made in the embedded S3 when absent (on AWS they are the operator's).
  for (const bucket of new Set(Object.values(config.kbDestinations).map((destination) => destination.bucket))) {
    if (bucket !== NAMES.bucket) await createBucket(s3, bucket);
  }
  const queues = {
    standard: await createQueuePair(sqs, 'docproc-standard', settings(workerTimeoutSeconds(config, 'standard'))),
    large: await createQueuePair(sqs, 'docproc-large', settings(workerTimeoutSeconds(config, 'large'))),
    pages: await createQueuePair(sqs, 'docproc-pages', settings(workerTimeoutSeconds(config, 'standard'))),
    uploadEvents: await createQueuePair(sqs, 'docproc-upload-events', settings(UPLOAD_EVENTS_TIMEOUT_SECONDS)),
    webhookDeliveries: await createQueuePair(
      sqs,
      'docproc-webhook-deliveries',
      settings(WEBHOOK_DELIVERIES_TIMEOUT_SECONDS),
    ),
    batchJobs: await createQueuePair(sqs, 'docproc-batch-jobs', settings(BATCH_JOBS_TIMEOUT_SECONDS)),
  };

  const resources: FunctionResources = {
    partition: 'aws',
    tableName: NAMES.table,
    tableArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${NAMES.table}`,
    bucketName: NAMES.bucket,
    bucketArn: `arn:aws:s3:::${NAMES.bucket}`,
    deliveriesTableName: NAMES.deliveries,
    deliveriesTableArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${NAMES.deliveries}`,
    webhookSecretArn,
    queues: {
      standard: { url: queues.standard.url, arn: queues.standard.arn },
      large: { url: queues.large.url, arn: queues.large.arn },
      pages: { url: queues.pages.url, arn: queues.pages.arn },
      webhookDeliveries: { url: queues.webhookDeliveries.url, arn: queues.webhookDeliveries.arn },
      batchJobs: { url: queues.batchJobs.url, arn: queues.batchJobs.arn },
    },
    sources: config,
    eventBus: { name: NAMES.eventBus, arn: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${NAMES.eventBus}` },
    region: REGION,
    account: ACCOUNT,
    destinations: config.kbDestinations,
  };
  const functions = localFunctions(config, resources, endpoints, {
    bundles: await localBundles(localEntries(config)),
    allowPrivateUrls: options.allowPrivateUrls ?? false,
    timing,
    faults: options.faults,
    unsandboxed: options.unsandboxed,
    metricsNamespace: config.metricsNamespace,
    account: { region: REGION, account: ACCOUNT },
    adjustPolicy: options.adjustPolicy,
  });
  // The URLs the functions presign are checked against their policies too.
  await emulators.setSigners({
    account: { region: REGION, account: ACCOUNT },
    administrator: CREDENTIALS,
    functions: Object.values(functions).map((fn) => ({
      accessKeyId: fn.environment.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: fn.environment.AWS_SECRET_ACCESS_KEY ?? '',
      function: fn.name,
      policy: fn.policy,
    })),
  });
  const faults: string[] = [];
  const iam: LocalStack['iam'] = { used: new Set(), denied: [] };
  const metrics = new LocalMetrics();
  const onNotice = (notice: unknown) => {
    const { fault, emf } = notice as { fault?: string; emf?: unknown };
    if (fault) faults.push(fault);
    if (emf) metrics.recordEmf(emf);
    const check = notice as Partial<IamNotice>;
    if (check.iam === 'used') iam.used.add(`${check.function} ${check.statement} ${check.action} ${check.resource}`);
    if (check.iam === 'denied') {
      iam.denied.push(check as Extract<IamNotice, { iam: 'denied' }>);
      log(`IAM: ${check.function} is not allowed ${check.action} on ${check.resource}`);
    }
  };
  emulators.onIamNotice(onNotice);
  const runtimes = Object.fromEntries(
    Object.entries(functions).map(([name, fn]) => [
      name,
      new FunctionRuntime(fn, onNotice, ({ durationMs, failed }) => {
        const lambda = (metric: string) => ({
          namespace: 'AWS/Lambda',
          name: metric,
          dimensions: { FunctionName: name },
        });
        metrics.record(lambda('Invocations'), 1);
        metrics.record(lambda('Errors'), failed ? 1 : 0);
        metrics.record(lambda('Duration'), durationMs);
      }),
    ]),
  ) as Record<FunctionName, FunctionRuntime>;

  if (options.dataDir) {
    // Queued messages are not kept: queue again what the table says is still to do.
    const requeued = await recoverUnfinished({
      store: new DynamoTaskStore(dynamo, NAMES.table),
      queue: new SqsJobQueue(sqs, { standard: queues.standard.url, large: queues.large.url }),
      clock: systemClock,
    });
    log(`data dir ${options.dataDir}: ${requeued} unfinished tasks queued again`);
  }

  // S3 ObjectCreated notifications on the prefixes the bucket's notification configuration names.
  const notified = objectCreatedPrefixes(config);
  emulators.onObjectCreated(({ bucket, key, size, event, eTag, sequencer }) => {
    if (bucket !== NAMES.bucket || !notified.some((prefix) => key.startsWith(prefix))) return;
    const notification = {
      Records: [
        {
          eventVersion: '2.1',
          eventSource: 'aws:s3',
          awsRegion: REGION,
          eventTime: new Date().toISOString(),
          eventName: `ObjectCreated:${event}`,
          s3: {
            bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
            object: { key: encodeURIComponent(key).replace(/%2F/g, '/'), size, eTag, sequencer },
          },
        },
      ],
    };
    void sqs
      .send(new SendMessageCommand({ QueueUrl: queues.uploadEvents.url, MessageBody: JSON.stringify(notification) }))
      .catch((error: unknown) => log(`upload notification failed: ${String(error)}`));
  });

  // The event source mappings and the schedule the CDK stack wires (see lib/constructs/consumers.ts).
  const onError = (error: unknown) => log(`consumer: ${(error as Error).message ?? String(error)}`);
  const sqsMetric = (queueName: string, metric: string): MetricKey => ({
    namespace: 'AWS/SQS',
    name: metric,
    dimensions: { QueueName: queueName },
  });
  const source = (
    name: FunctionName,
    queue: { name: string; url: string; arn: string },
    batchSize: number,
    maxConcurrency: number,
  ) =>
    new SqsEventSource(sqs, runtimes[name], {
      onReceived: (count) => metrics.record(sqsMetric(queue.name, 'NumberOfMessagesReceived'), count),
      queueUrl: queue.url,
      queueArn: queue.arn,
      batchSize,
      maxConcurrency,
      onError,
    });
  const sources = {
    worker: source('worker', queues.standard, config.workerBatchSize, config.workerConcurrency),
    largeWorker: source('largeWorker', queues.large, 1, config.largeWorkerConcurrency),
    pageWorker: source('pageWorker', queues.pages, 1, functions.pageWorker.maxInstances),
    deadLetters: source('deadLetters', queues.standard.deadLetters, 10, 2),
    largeDeadLetters: source('deadLetters', queues.large.deadLetters, 10, 2),
    pagesDeadLetters: source('deadLetters', queues.pages.deadLetters, 10, 2),
    uploadEvents: source('uploadEvents', queues.uploadEvents, 10, 2),
    webhookDeliveries: source(
      'webhookDeliveries',
      queues.webhookDeliveries,
      WEBHOOK_DELIVERY.batchSize,
      config.webhookConcurrency,
    ),
    batchJobs: source('batchJobs', queues.batchJobs, 1, BATCH.jobsConcurrency),
  };
  for (const eventSource of Object.values(sources)) eventSource.start();
  const janitor = setInterval(() => {
    runtimes.janitor.invoke({}).catch(onError);
  }, config.janitorIntervalMinutes * 60_000);
  janitor.unref();

  // SQS reports depths and the age of the oldest message to CloudWatch each minute; here, every ten seconds.
  const sampleQueues = async () => {
    const now = Date.now();
    for (const stats of await emulators.queueStats()) {
      const age = stats.oldestSentAt === undefined ? 0 : Math.floor((now - stats.oldestSentAt) / 1000);
      metrics.record(sqsMetric(stats.name, 'ApproximateNumberOfMessagesVisible'), stats.visible, now);
      metrics.record(sqsMetric(stats.name, 'ApproximateNumberOfMessagesNotVisible'), stats.inFlight, now);
      metrics.record(sqsMetric(stats.name, 'ApproximateAgeOfOldestMessage'), age, now);
    }
  };
  const sampler = setInterval(() => void sampleQueues().catch(onError), 10_000);
  sampler.unref();
  const specs = alarmSpecs(config);
  const resolve = (metric: MetricSource): MetricKey => {
    switch (metric.service) {
      case 'lambda':
        return { namespace: 'AWS/Lambda', name: metric.metric, dimensions: { FunctionName: metric.function } };
      case 'sqs': {
        const pair = queues[metric.queue];
        return sqsMetric(metric.deadLetters ? pair.deadLetters.name : pair.name, metric.metric);
      }
      case 'apigateway':
        return { namespace: 'AWS/ApiGateway', name: metric.metric, dimensions: { ApiName: LOCAL_API_NAME } };
      case 'custom':
        return {
          namespace: config.metricsNamespace,
          name: metric.metric,
          dimensions: { service: SERVICE_NAME, ...metric.dimensions },
        };
    }
  };
  const alarms = async () => {
    await sampleQueues();
    return specs.map((spec) => evaluateAlarm(spec, metrics, resolve));
  };

  const gateway = await startGateway({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 8000,
    routes: runtimes,
    apiKeys: options.apiKeys,
    corsOrigins: config.corsOrigins,
    onApiResponse: (status, latencyMs) => {
      const api = (metric: string) => ({
        namespace: 'AWS/ApiGateway',
        name: metric,
        dimensions: { ApiName: LOCAL_API_NAME },
      });
      metrics.record(api('Count'), 1);
      metrics.record(api('4XXError'), status >= 400 && status < 500 ? 1 : 0);
      metrics.record(api('5XXError'), status >= 500 ? 1 : 0);
      metrics.record(api('Latency'), latencyMs);
    },
    extra: monitorRoutes(
      sqs,
      queues,
      () => alarms(),
      () => eventBus.events(),
      () => recentBatches(dynamo, NAMES.table),
    ),
  });

  let warming: Promise<void> | undefined;
  const warm = async (all = false) => {
    warming ??= Promise.all(Object.values(runtimes).map((runtime) => runtime.prewarm(1))).then(() => {});
    await warming;
    if (all) await Promise.all(Object.values(runtimes).map((runtime) => runtime.prewarm(runtime.fn.maxInstances)));
  };
  if (options.prewarm) void warm();

  let stopping: Promise<void> | undefined;
  return {
    url: gateway.url,
    apiUrl: `${gateway.url}/${API_BASE_PATH}`,
    previewUrl: `${gateway.url}/${PREVIEW_PATH}`,
    config,
    queues,
    bucketName: NAMES.bucket,
    s3Endpoint: endpoints.s3,
    tableName: NAMES.table,
    deliveriesTableName: NAMES.deliveries,
    webhookSecret,
    clients: { s3, sqs, dynamo },
    functions,
    busy: () => Object.fromEntries(Object.entries(sources).map(([name, eventSource]) => [name, eventSource.busy])),
    faults,
    iam,
    metrics,
    alarms,
    warm,
    busEvents: () => eventBus.events(),
    ingestionJobs: () => knowledgeBases.jobs(),
    invoke: (name, event) => runtimes[name].invoke(event),
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(janitor);
        clearInterval(sampler);
        const grace = options.stopGraceMs ?? 5_000;
        // Stop receiving; work under way gets the grace period, then its environment is stopped
        // (its messages come back after their visibility timeout, or at the next start with a data dir).
        await Promise.all([
          gateway.close(),
          ...Object.values(sources).map((eventSource) => eventSource.stop()),
          ...Object.values(runtimes).map((runtime) => runtime.stop(grace)),
        ]);
        s3.destroy();
        sqs.destroy();
        rawDynamo.destroy();
        await secretsManager.close();
        await knowledgeBases.close();
        await Promise.all([emulators.stop(), eventBus.stop()]);
      })()),
  };
};
