import { availableParallelism } from 'node:os';
import type { DeploymentConfig } from '../lib/config.js';
import {
  accessEnvironment,
  accessStatements,
  functionCatalogue,
  type FunctionName,
  type FunctionResources,
  type PolicyStatementSpec,
} from '../lib/function-catalogue.js';
import type { LocalBundles } from './bundles.js';
import type { LocalAccount } from './iam.js';
import type { LocalFunction } from './lambda-runtime.js';
import { BATCH, SERVICE_NAME } from '../shared/definitions.js';

/** Faults the integration tests inject into the local workers, as data (never part of the Lambda code). */
export interface FaultSpec {
  /** Documents with these names crash the worker on every delivery. */
  crashFilenames?: string[];
  /** Documents with these names crash the worker on their first delivery only. */
  crashOnceFilenames?: string[];
  /** The first this-many S3 reads of inputs fail with a network error. */
  failFirstReads?: number;
  /** Documents with these names are cancelled while their result is being stored (a cancel that races the end). */
  cancelWhileStoring?: string[];
  /** Parts of fanned-out documents with these pages ("3-4") crash the page worker on every delivery. */
  crashParts?: string[];
  /** The page workers find the inputs with these key endings gone (as if deleted after the plan). */
  missingPartInputs?: string[];
  /** Each part is read this much later (the page workers stay busy long enough to cancel in the middle). */
  partDelayMs?: number;
}

/** Test-only timing knobs, beyond what a deployment allows, so that leases and the DLQ can be seen in seconds. */
export interface LocalTiming {
  workerTimeoutMs?: number;
  softTimeLimitMarginMs?: number;
  visibilityTimeoutSeconds?: number;
  leaseMarginMs?: number;
  /** Every webhook retry delay, and the give-up time, multiplied by this (below 1), so a retry is seen in seconds. */
  webhookRetryScale?: number;
  /** Children per batch page, so that a few hundred objects make several pages. */
  batchPageSize?: number;
}

/** Variables only the local runtime sets: switches the CDK stack never sets. */
export const LOCAL_ONLY_VARIABLES = ['ALLOW_PRIVATE_URLS', 'LEASE_MARGIN_MS', 'WEBHOOK_RETRY_SCALE', 'BATCH_PAGE_SIZE'];

/** What the local runtime sets itself, as Lambda's does (region, credentials, endpoints, the function's name). */
export const RUNTIME_VARIABLES = [
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_ENDPOINT_URL_S3',
  'AWS_ENDPOINT_URL_SQS',
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_ENDPOINT_URL_EVENTBRIDGE',
  'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  'AWS_ENDPOINT_URL_BEDROCK_AGENT',
  'S3_FORCE_PATH_STYLE',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'TZ',
];

export interface LocalEndpoints {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  s3: string;
  sqs: string;
  dynamodb: string;
  /** The local Secrets Manager (secrets-manager.ts). */
  secretsManager: string;
  /** The knowledge bases' API (StartIngestionJob, see knowledge-bases.ts). */
  bedrockAgent: string;
  /** The local event bus (event-bus.ts). */
  events: string;
}

export interface LocalFunctionOptions {
  /** The bundled entries (see bundles.ts). */
  bundles: LocalBundles;
  allowPrivateUrls: boolean;
  timing?: LocalTiming | undefined;
  faults?: FaultSpec | undefined;
  /** The benchmark's baseline: workers without their sandbox. */
  unsandboxed?: boolean | undefined;
  /** The region and account the local ARNs use. */
  account: LocalAccount;
  /** Tests only: change the policy a function's calls are checked against (remove a grant, say). */
  adjustPolicy?: ((name: FunctionName, policy: PolicyStatementSpec[]) => PolicyStatementSpec[]) | undefined;
  metricsNamespace: string;
}

/**
 * How many execution environments each function may run at once. The
 * workers get their event sources' maxConcurrency, as on AWS. Lambda scales
 * API functions far beyond that; here they share this machine's cores, and
 * measured with 25 polling clients on two cores, one environment per core
 * served more (62 tasks/s, client p50 398 ms) than four (53 tasks/s, 450 ms)
 * or eight: each one more is a thread contending for the same cores.
 */
const maxInstancesOf = (name: FunctionName, config: DeploymentConfig): number => {
  if (name === 'worker') return config.workerConcurrency;
  if (name === 'largeWorker') return config.largeWorkerConcurrency;
  // Each part is OCR, all CPU: more page workers than cores would only share them.
  if (name === 'pageWorker') return Math.min(config.pageWorkerConcurrency, Math.max(2, availableParallelism()));
  if (name === 'janitor') return 1;
  if (name === 'webhookDeliveries') return config.webhookConcurrency;
  if (name === 'batchJobs') return BATCH.jobsConcurrency;
  if (name === 'deadLetters' || name === 'uploadEvents') return 2;
  return Math.max(2, availableParallelism());
};

const stringify = (values: Record<string, string | number | boolean>) =>
  Object.fromEntries(Object.entries(values).map(([key, value]) => [key, String(value)]));

/** Powertools settings of this process (log level in tests, for instance) reach the functions as well. */
const powertoolsSettings = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => entry[0].startsWith('POWERTOOLS_') && entry[1] !== undefined,
    ),
  );

/** A local function with the policy it runs under (what the CDK stack grants it). */
export type LocalServiceFunction = LocalFunction & { policy: PolicyStatementSpec[] };

/**
 * Every function of the catalogue as the local runtime runs it: the same
 * entry, the environment the CDK stack gives it (built by the same
 * functions), the policy it would have on AWS, and Lambda's own variables
 * pointing at the emulators.
 */
export const localFunctions = (
  config: DeploymentConfig,
  resources: FunctionResources,
  endpoints: LocalEndpoints,
  options: LocalFunctionOptions,
): Record<FunctionName, LocalServiceFunction> => {
  const catalogue = functionCatalogue(config);
  const timing = options.timing ?? {};
  const entries = Object.entries(catalogue) as Array<[FunctionName, (typeof catalogue)[FunctionName]]>;
  // Fault state shared by both workers' instances (see faulty-worker.ts).
  const counters = options.faults
    ? new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * ((options.faults.crashOnceFilenames?.length ?? 0) + 1))
    : undefined;
  return Object.fromEntries(
    entries.map(([name, spec]) => {
      const isWorker = name === 'worker' || name === 'largeWorker' || name === 'pageWorker';
      const timeoutMs =
        isWorker && timing.workerTimeoutMs !== undefined ? timing.workerTimeoutMs : spec.timeoutSeconds * 1000;
      const environment: Record<string, string> = {
        ...powertoolsSettings(),
        // Published as on Lambda: the runtime takes the EMF output to the local metrics (see lambda-thread.ts).
        POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'false',
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: options.metricsNamespace,
        TZ: 'UTC',
        AWS_REGION: endpoints.region,
        AWS_DEFAULT_REGION: endpoints.region,
        // A key of its own, so that a URL it presigns is checked against its policy (see emulators.ts).
        AWS_ACCESS_KEY_ID: `${endpoints.credentials.accessKeyId}-${name}`,
        AWS_SECRET_ACCESS_KEY: endpoints.credentials.secretAccessKey,
        AWS_ENDPOINT_URL_S3: endpoints.s3,
        AWS_ENDPOINT_URL_SQS: endpoints.sqs,
        AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
        AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.events,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secretsManager,
        AWS_ENDPOINT_URL_BEDROCK_AGENT: endpoints.bedrockAgent,
        // The S3 emulator answers path-style URLs (bucket in the path, not the host name).
        S3_FORCE_PATH_STYLE: 'true',
        AWS_LAMBDA_FUNCTION_NAME: name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
        ...stringify(spec.environment),
        ...accessEnvironment(spec.access, resources),
        ALLOW_PRIVATE_URLS: String(options.allowPrivateUrls),
        ...(isWorker && timing.workerTimeoutMs !== undefined ? { FUNCTION_TIMEOUT_MS: String(timeoutMs) } : {}),
        ...(name === 'deadLetters' && timing.workerTimeoutMs !== undefined
          ? {
              WORKER_TIMEOUT_MS: String(timing.workerTimeoutMs),
              LARGE_WORKER_TIMEOUT_MS: String(timing.workerTimeoutMs),
            }
          : {}),
        ...(isWorker && timing.softTimeLimitMarginMs !== undefined
          ? { SOFT_TIME_LIMIT_MARGIN_MS: String(timing.softTimeLimitMarginMs) }
          : {}),
        ...(isWorker && timing.leaseMarginMs !== undefined ? { LEASE_MARGIN_MS: String(timing.leaseMarginMs) } : {}),
        ...(name === 'batchJobs' && timing.batchPageSize !== undefined
          ? { BATCH_PAGE_SIZE: String(timing.batchPageSize) }
          : {}),
        ...(name === 'webhookDeliveries' && timing.webhookRetryScale !== undefined
          ? { WEBHOOK_RETRY_SCALE: String(timing.webhookRetryScale) }
          : {}),
      };
      const faulty = isWorker && options.faults !== undefined;
      const statements = accessStatements(spec.access, resources);
      const policy = options.adjustPolicy?.(name, statements) ?? statements;
      const fn: LocalServiceFunction = {
        name,
        // With faults to inject, the worker runs through a wrapper of the same handler factory.
        entry: bundleOf(
          options.bundles.modules,
          faulty
            ? FAULTY_WORKER_ENTRY
            : isWorker && options.unsandboxed
              ? UNSANDBOXED_WORKER_ENTRY
              : `lambdas/${spec.entry}`,
        ),
        bootstrap: bundleOf(options.bundles.modules, BOOTSTRAP_ENTRY),
        compileCache: options.bundles.compileCache,
        timeoutMs,
        memoryMb: spec.memoryMb,
        environment,
        maxInstances: maxInstancesOf(name, config),
        policy,
        options: {
          ...(faulty ? { faults: options.faults, counters } : {}),
          iam: { policy, account: options.account },
        },
      };
      return [name, fn];
    }),
  ) as Record<FunctionName, LocalServiceFunction>;
};

/** Entries the local runtime bundles besides the catalogue's. */
export const BOOTSTRAP_ENTRY = 'local/lambda-thread.ts';
export const FAULTY_WORKER_ENTRY = 'local/faulty-worker.ts';
export const UNSANDBOXED_WORKER_ENTRY = 'local/unsandboxed-worker.ts';

/** Every module the local stack runs in its function threads, as paths from the project root. */
export const localEntries = (config: DeploymentConfig): string[] => [
  ...new Set(Object.values(functionCatalogue(config)).map((spec) => `lambdas/${spec.entry}`)),
  BOOTSTRAP_ENTRY,
  FAULTY_WORKER_ENTRY,
  UNSANDBOXED_WORKER_ENTRY,
];

const bundleOf = (bundles: ReadonlyMap<string, URL>, entry: string): URL => {
  const url = bundles.get(entry);
  if (!url) throw new Error(`No local bundle for ${entry}`);
  return url;
};
