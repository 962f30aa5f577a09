import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { resetAwsClients } from '../lambdas/adapters/clients.js';
import { DynamoTaskStore } from '../lambdas/adapters/dynamo-task-store.js';
import { taskMessage, type QueueClass } from '../lambdas/core/task.js';
import { parseDeploymentConfig, type DeploymentConfig } from '../lib/config.js';

import { PREFIX, queueSettings } from '../lib/definitions.js';
import { UPLOAD_EVENTS_TIMEOUT_SECONDS, workerTimeoutSeconds } from '../lib/function-environment.js';
import { startGateway } from './api-gateway.js';
import { monitorRoutes } from './monitor.js';
import { startEmulators, type Emulators } from './emulators.js';
import type { ConsumerSettings, FaultSpec } from './consumers.js';
import { localFunctions, type LocalFunctions, type LocalTiming } from './functions.js';
import { createBucket, createQueuePair, createTaskTable, type QueuePair } from './provision.js';

export interface LocalStackOptions {
  port?: number;
  host?: string;
  /** Keep task rows (and, on a clean stop, stored objects) here across restarts. */
  dataDir?: string | undefined;
  /** Require one of these `x-api-key` values, as the deployed API does; each key owns its tasks. Default: none. */
  apiKeys?: readonly string[] | undefined;
  /** Let URL sources point at private and loopback addresses. For tests with a local fixture server only. */
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
  log?: (line: string) => void;
}

export interface LocalStack {
  /** Base URL of the server (`http://localhost:8000`). */
  url: string;
  /** Base URL of the document API (`…/documents/async`). */
  apiUrl: string;
  config: DeploymentConfig;
  queues: Record<'standard' | 'large' | 'uploadEvents', QueuePair>;
  bucketName: string;
  tableName: string;
  clients: { s3: S3Client; sqs: SQSClient; dynamo: DynamoDBDocumentClient };
  functions: LocalFunctions;
  /** Invocations under way, per consumer. */
  busy(): Record<string, number>;
  /** Faults injected so far (tests). */
  faults: string[];
  stop(): Promise<void>;
}

/** Starts the consumers on their own thread (see consumer-thread.ts). */
const startConsumerThread = async (settings: ConsumerSettings, log: (line: string) => void) => {
  const entry = new URL(`./consumer-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  const fromSource = entry.pathname.endsWith('.ts');
  const thread = new Worker(entry, {
    workerData: settings,
    ...(fromSource && !process.execArgv.some((arg) => arg.includes('tsx'))
      ? { execArgv: [...process.execArgv, '--import', 'tsx'] }
      : {}),
  });
  let busy: Record<string, number> = {};
  const faults: string[] = [];
  const stopped = new Promise<void>((resolve) => {
    thread.on('message', (message: { type: string; line?: string; fault?: string; busy?: Record<string, number> }) => {
      if (message.type === 'log') log(String(message.line));
      if (message.type === 'fault') faults.push(String(message.fault));
      if (message.type === 'busy') busy = message.busy ?? {};
      if (message.type === 'stopped') resolve();
    });
  });
  await new Promise<void>((resolve, reject) => {
    thread.once('error', reject);
    thread.on('message', (message: { type: string }) => message.type === 'ready' && resolve());
  });
  return {
    busy: () => busy,
    faults,
    stop: async () => {
      thread.postMessage({ type: 'stop' });
      await stopped;
      await thread.terminate();
    },
  };
};

const NAMES = { table: 'docproc-tasks', bucket: 'docproc-documents' } as const;
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Objects are not kept by the S3 emulator: a clean stop writes them under the data dir, a start puts them back. */
const snapshotObjects = async (s3: S3Client, bucket: string, dir: string) => {
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const key = String(object.Key);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const file = join(dir, key);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, await got.Body!.transformToByteArray());
      writeFileSync(`${file}.meta.json`, JSON.stringify({ contentType: got.ContentType }));
    }
    token = page.NextContinuationToken;
  } while (token);
};

const restoreObjects = async (s3: S3Client, bucket: string, dir: string) => {
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch {
    return 0;
  }
  let restored = 0;
  for (const entry of entries) {
    const file = join(dir, entry);
    if (entry.endsWith('.meta.json')) continue;
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      continue; // a directory
    }
    const meta = JSON.parse(readFileSync(`${file}.meta.json`, 'utf8')) as { contentType?: string };
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: relative(dir, file), Body: body, ContentType: meta.contentType }),
    );
    restored++;
  }
  return restored;
};

/**
 * The whole service on one machine, no Docker, no AWS account: the
 * emulators, the resources the CDK stack defines (from the same
 * definitions), the API behind a local API Gateway, and the queue consumers
 * behind local event source mappings.
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
  const emulators: Emulators = await startEmulators({ host: '127.0.0.1', dataDir: options.dataDir });

  // Every SDK client in this process (the handlers' included) talks to the emulators.
  Object.assign(process.env, {
    // EMF metrics are CloudWatch's business; locally they would only flood the console.
    POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
    // The same for every API function, as the CDK stack sets it.
    CORS_ORIGINS: config.corsOrigins.join(','),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: emulators.awsEndpoint,
    // The SDK sends SQS calls to the queue URL's host; naming the endpoint the same way keeps it quiet about it.
    AWS_ENDPOINT_URL_SQS: emulators.awsEndpoint.replace('127.0.0.1', 'sqs.us-east-1.localhost'),
    AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamoEndpoint,
    // The S3 emulator answers path-style URLs (bucket in the path, not the host name).
    S3_FORCE_PATH_STYLE: 'true',
  });
  resetAwsClients();
  const region = 'us-east-1';
  const s3 = new S3Client({ endpoint: emulators.awsEndpoint, region, credentials: CREDENTIALS, forcePathStyle: true });
  const sqs = new SQSClient({ endpoint: emulators.awsEndpoint, region, credentials: CREDENTIALS });
  const rawDynamo = new DynamoDBClient({ endpoint: emulators.dynamoEndpoint, region, credentials: CREDENTIALS });
  const dynamo = DynamoDBDocumentClient.from(rawDynamo, { marshallOptions: { removeUndefinedValues: true } });

  const { TableNames } = await rawDynamo.send(new ListTablesCommand({}));
  if (!TableNames?.includes(NAMES.table)) await createTaskTable(rawDynamo, NAMES.table);
  await createBucket(s3, NAMES.bucket);
  const queues = {
    standard: await createQueuePair(sqs, 'docproc-standard', settings(workerTimeoutSeconds(config, 'standard'))),
    large: await createQueuePair(sqs, 'docproc-large', settings(workerTimeoutSeconds(config, 'large'))),
    uploadEvents: await createQueuePair(sqs, 'docproc-upload-events', settings(UPLOAD_EVENTS_TIMEOUT_SECONDS)),
  };

  const resources = {
    tableName: NAMES.table,
    bucketName: NAMES.bucket,
    queueUrl: queues.standard.url,
    largeQueueUrl: queues.large.url,
  };
  // The API functions run here; the consumers run the same definitions on their own thread.
  const functions = localFunctions(config, resources, { allowPrivateUrls: options.allowPrivateUrls ?? false, timing });

  if (options.dataDir) {
    const restored = await restoreObjects(s3, NAMES.bucket, join(options.dataDir, 's3'));
    // Queued messages are not kept: queue again what the table says is still to do.
    const store = new DynamoTaskStore(dynamo, NAMES.table);
    let requeued = 0;
    for (const status of ['PENDING', 'STARTED'] as const) {
      for (const task of await store.listOlderThan(status, new Date().toISOString(), 1000)) {
        const url = task.queue === ('large' satisfies QueueClass) ? queues.large.url : queues.standard.url;
        await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify(taskMessage(task)) }));
        requeued++;
      }
    }
    log(`data dir ${options.dataDir}: ${restored} objects restored, ${requeued} unfinished tasks queued again`);
  }

  // S3 ObjectCreated notifications on the uploads prefix, as the bucket's notification configuration sends them.
  emulators.onObjectCreated(({ bucket, key, size }) => {
    if (bucket !== NAMES.bucket || !key.startsWith(PREFIX.uploads)) return;
    const notification = {
      Records: [
        {
          eventVersion: '2.1',
          eventSource: 'aws:s3',
          awsRegion: region,
          eventTime: new Date().toISOString(),
          eventName: 'ObjectCreated:Put',
          s3: {
            bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
            object: { key: encodeURIComponent(key).replace(/%2F/g, '/'), size },
          },
        },
      ],
    };
    void sqs
      .send(new SendMessageCommand({ QueueUrl: queues.uploadEvents.url, MessageBody: JSON.stringify(notification) }))
      .catch((error: unknown) => log(`upload notification failed: ${String(error)}`));
  });

  const consumers = await startConsumerThread(
    { config, resources, queues, allowPrivateUrls: options.allowPrivateUrls ?? false, timing, faults: options.faults },
    log,
  );

  const gateway = await startGateway({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 8000,
    routes: functions.routes,
    apiKeys: options.apiKeys,
    corsOrigins: config.corsOrigins,
    extra: monitorRoutes(sqs, queues),
  });

  let stopping: Promise<void> | undefined;
  return {
    url: gateway.url,
    apiUrl: `${gateway.url}/documents/async`,
    config,
    queues,
    bucketName: NAMES.bucket,
    tableName: NAMES.table,
    clients: { s3, sqs, dynamo },
    functions,
    busy: () => consumers.busy(),
    faults: consumers.faults,
    stop: () =>
      (stopping ??= (async () => {
        await gateway.close();
        // In-flight invocations finish; what they do not delete returns to the queue.
        await consumers.stop();
        if (options.dataDir) await snapshotObjects(s3, NAMES.bucket, join(options.dataDir, 's3'));
        s3.destroy();
        sqs.destroy();
        rawDynamo.destroy();
        await emulators.stop();
      })()),
  };
};
