import type { APIGatewayProxyEvent, APIGatewayProxyResult, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { makeCancelTaskHandler } from '../lambdas/api/cancel-task.js';
import { buildApiDeps, type ApiDeps } from '../lambdas/api/deps.js';
import { makeGetTaskHandler } from '../lambdas/api/get-task.js';
import { makeListTasksHandler } from '../lambdas/api/list-tasks.js';
import { makeProcessHandler } from '../lambdas/api/process.js';
import { makeRetryTaskHandler } from '../lambdas/api/retry-task.js';
import { makeUploadUrlHandler } from '../lambdas/api/upload-url.js';
import { makeUploadHandler } from '../lambdas/api/upload.js';
import { buildWorkerDeps, type WorkerDeps } from '../lambdas/worker/deps.js';
import { makeDlqHandler } from '../lambdas/worker/dlq.js';
import { makeWorkerHandler } from '../lambdas/worker/handler.js';
import { sweep } from '../lambdas/worker/janitor.js';
import { buildDlqDeps, buildJanitorDeps, buildUploadEventsDeps } from '../lambdas/worker/maintenance-deps.js';
import { makeUploadEventsHandler } from '../lambdas/worker/upload-events.js';
import type { DeploymentConfig } from '../lib/config.js';
import { formatSourceLocations, sourceLocations, type RouteHandler } from '../lib/definitions.js';
import {
  API_TIMEOUT_SECONDS,
  apiEnvironment,
  DLQ_TIMEOUT_SECONDS,
  dlqEnvironment,
  JANITOR_TIMEOUT_SECONDS,
  janitorEnvironment,
  UPLOAD_EVENTS_TIMEOUT_SECONDS,
  workerEnvironment,
  workerTimeoutSeconds,
} from '../lib/function-environment.js';
import { once } from '../lambdas/adapters/index.js';
import type { LocalFunction } from './lambda-runtime.js';

export interface LocalResources {
  tableName: string;
  bucketName: string;
  queueUrl: string;
  largeQueueUrl: string;
}

/** Failures the integration tests inject into the local workers (never part of the Lambda code). */
export interface Faults {
  /** Throw an unexpected error while processing a document with this file name, as a crashing worker would. */
  crash?: (filename: string) => boolean;
  /** Fail this S3 read with a network error. */
  failRead?: (key: string) => boolean;
}

/** Test-only timing knobs (see LocalStackOptions.timing). */
export interface LocalTiming {
  workerTimeoutMs?: number;
  softTimeLimitMarginMs?: number;
  visibilityTimeoutSeconds?: number;
  leaseMarginMs?: number;
}

/** Variables only the local runtime sets: endpoints and switches the CDK stack never sets. */
export const LOCAL_ONLY_VARIABLES = ['ALLOW_PRIVATE_URLS', 'LEASE_MARGIN_MS'];

const stringify = (values: Record<string, string | number | boolean>) =>
  Object.fromEntries(Object.entries(values).map(([key, value]) => [key, String(value)]));

export interface LocalFunctions {
  routes: Record<RouteHandler, LocalFunction<APIGatewayProxyEvent, APIGatewayProxyResult>>;
  worker: LocalFunction<SQSEvent, SQSBatchResponse>;
  largeWorker: LocalFunction<SQSEvent, SQSBatchResponse>;
  deadLetters: LocalFunction<SQSEvent, SQSBatchResponse>;
  uploadEvents: LocalFunction<SQSEvent, SQSBatchResponse>;
  janitor: LocalFunction<unknown, unknown>;
}

/**
 * Every function of the stack, with the environment the CDK constructs give
 * it (the same builders in lib/function-environment.ts, the same resource
 * variables as its grants), wired to the handler factories of lambdas/.
 */
export const localFunctions = (
  config: DeploymentConfig,
  resources: LocalResources,
  options: { allowPrivateUrls: boolean; timing?: LocalTiming; faults?: Faults },
): LocalFunctions => {
  const base = { ALLOW_PRIVATE_URLS: String(options.allowPrivateUrls) };
  const table = { TABLE_NAME: resources.tableName };
  const bucket = { BUCKET_NAME: resources.bucketName };
  const queues = { QUEUE_URL: resources.queueUrl, LARGE_QUEUE_URL: resources.largeQueueUrl };
  const sources = { SOURCE_LOCATIONS: formatSourceLocations(sourceLocations(resources.bucketName, config)) };
  const api = stringify(apiEnvironment(config));

  const route = (
    name: RouteHandler,
    make: (deps: () => ApiDeps) => (event: APIGatewayProxyEvent, context: never) => Promise<APIGatewayProxyResult>,
    environment: Record<string, string>,
  ): LocalFunction<APIGatewayProxyEvent, APIGatewayProxyResult> => {
    const env = { ...base, ...environment, ...api };
    const handler = make(once(() => buildApiDeps(env)));
    return {
      name,
      timeoutMs: API_TIMEOUT_SECONDS * 1000,
      memoryMb: name === 'upload' ? 1024 : 512,
      environment: env,
      handler: (event, context) => handler(event, context as never),
    };
  };

  const worker = (queueClass: 'standard' | 'large'): LocalFunction<SQSEvent, SQSBatchResponse> => {
    const timing = options.timing ?? {};
    const timeoutMs = timing.workerTimeoutMs ?? workerTimeoutSeconds(config, queueClass) * 1000;
    const env = {
      ...base,
      ...table,
      ...bucket,
      ...sources,
      ...stringify(workerEnvironment(config, queueClass)),
      ...(timing.workerTimeoutMs === undefined ? {} : { FUNCTION_TIMEOUT_MS: String(timeoutMs) }),
      ...(timing.softTimeLimitMarginMs === undefined
        ? {}
        : { SOFT_TIME_LIMIT_MARGIN_MS: String(timing.softTimeLimitMarginMs) }),
      ...(timing.leaseMarginMs === undefined ? {} : { LEASE_MARGIN_MS: String(timing.leaseMarginMs) }),
    };
    const deps = once((): WorkerDeps => withFaults(buildWorkerDeps(env), options.faults));
    return {
      name: queueClass === 'large' ? 'largeWorker' : 'worker',
      timeoutMs,
      memoryMb: queueClass === 'large' ? config.largeWorkerMemoryMb : config.workerMemoryMb,
      environment: env,
      handler: makeWorkerHandler(deps),
    };
  };

  const deadLettersEnv = { ...base, ...table, ...stringify(dlqEnvironment(config)) };
  const uploadEventsEnv = { ...base, ...table, ...queues };
  const janitorEnv = { ...base, ...table, ...bucket, ...queues, ...stringify(janitorEnvironment(config)) };
  const janitorDeps = once(() => buildJanitorDeps(janitorEnv));

  return {
    routes: {
      upload: route('upload', makeUploadHandler, { ...table, ...bucket, ...queues }),
      process: route('process', makeProcessHandler, { ...table, ...bucket, ...queues, ...sources }),
      uploadUrl: route('uploadUrl', makeUploadUrlHandler, { ...table, ...bucket, ...queues }),
      getTask: route('getTask', makeGetTaskHandler, { ...table, ...bucket }),
      listTasks: route('listTasks', makeListTasksHandler, table),
      cancelTask: route('cancelTask', makeCancelTaskHandler, table),
      retryTask: route('retryTask', makeRetryTaskHandler, { ...table, ...queues }),
    },
    worker: worker('standard'),
    largeWorker: worker('large'),
    deadLetters: {
      name: 'deadLetters',
      timeoutMs: DLQ_TIMEOUT_SECONDS * 1000,
      memoryMb: 256,
      environment: deadLettersEnv,
      handler: makeDlqHandler(once(() => buildDlqDeps(deadLettersEnv))),
    },
    uploadEvents: {
      name: 'uploadEvents',
      timeoutMs: UPLOAD_EVENTS_TIMEOUT_SECONDS * 1000,
      memoryMb: 256,
      environment: uploadEventsEnv,
      handler: makeUploadEventsHandler(once(() => buildUploadEventsDeps(uploadEventsEnv))),
    },
    janitor: {
      name: 'janitor',
      timeoutMs: JANITOR_TIMEOUT_SECONDS * 1000,
      memoryMb: 256,
      environment: janitorEnv,
      handler: async () => sweep(janitorDeps()),
    },
  };
};

/** Wraps the worker's collaborators with the injected faults, if any. */
const withFaults = (deps: WorkerDeps, faults: Faults | undefined): WorkerDeps => {
  if (!faults) return deps;
  const { crash, failRead } = faults;
  return {
    ...deps,
    blobs: {
      ...deps.blobs,
      get: async (bucket, key, maxBytes) => {
        if (failRead?.(key)) throw Object.assign(new Error('injected: connection reset'), { name: 'NetworkingError' });
        return deps.blobs.get(bucket, key, maxBytes);
      },
      put: (...args) => deps.blobs.put(...args),
      delete: (...args) => deps.blobs.delete(...args),
      head: (...args) => deps.blobs.head(...args),
      presignGet: (...args) => deps.blobs.presignGet(...args),
      presignPut: (...args) => deps.blobs.presignPut(...args),
    },
    processDocument: async (input, processingOptions, context) => {
      if (crash?.(input.filename)) throw new Error('injected: worker crashed');
      return deps.processDocument(input, processingOptions, context);
    },
  };
};
