import { BedrockVisionModel } from '../adapters/bedrock-vision.js';
import type { VisionModel } from '../figure-descriptions/describe.js';
import { randomUUID } from 'node:crypto';
import {
  batchStore,
  blobStore,
  eventSink,
  knowledgeBaseIngestion,
  partQueue,
  resultCache,
  taskStore,
} from '../adapters/index.js';
import { once } from '../cold-start.js';
import { loadConfig, workerEnvironmentSchema, type WorkerConfig } from '../config.js';
import {
  systemClock,
  type BlobStore,
  type Clock,
  type EventSink,
  type FetchSource,
  type BatchStore,
  type PartQueue,
  type TaskMetrics,
  type TaskStore,
} from '../core/ports.js';
import {
  SandboxPool,
  type AssembleInSandbox,
  type ProcessInSandbox,
  type ReadPartInSandbox,
} from '../documents/sandbox.js';
import { logger, taskMetrics } from '../observability.js';
import { fetchSource } from '../adapters/url-source.js';
import { Announcements } from '../core/events.js';
import type { ResultCache } from '../core/result-cache.js';
import type { KnowledgeBaseIngestion } from '../knowledge-base/ingestion.js';

export interface WorkerDeps {
  config: WorkerConfig;
  store: TaskStore;
  blobs: BlobStore;
  clock: Clock;
  metrics: TaskMetrics;
  events: EventSink;
  /** A run's announcements go on beside it; the handler waits for them before it returns. */
  announcements: Announcements;
  newId: () => string;
  fetchSource: FetchSource;
  processDocument: ProcessInSandbox;
  /** A part of a fanned-out document (its pages), read in the sandbox. */
  readPart: ReadPartInSandbox;
  /** A fanned-out document's parts put together, in the sandbox. */
  assembleParts: AssembleInSandbox;
  /** Where a document with many pages to recognise goes in parts; without it, every document is read in one run. */
  parts?: PartQueue | undefined;
  sandbox?: SandboxPool | undefined;
  /** Without it, or with RESULT_CACHE_TTL_SECONDS 0, every task is parsed (docs/api.md, "Result cache"). */
  resultCache?: ResultCache | undefined;
  /** Minimum time between two progress writes within a stage. */
  progressIntervalMs: number;
  /** Where a batch that ended starts its knowledge base's sync: only with destinations that name one. */
  ingestion?: KnowledgeBaseIngestion | undefined;
  batches?: BatchStore | undefined;
  /** Describes figures (`figures=describe`), where the deployment configures a model (FIGURE_MODEL_ID). */
  vision?: VisionModel | undefined;
}

export const buildWorkerDeps = (env: NodeJS.ProcessEnv): WorkerDeps => {
  const config = loadConfig(workerEnvironmentSchema, env);
  const sandbox = new SandboxPool({
    memoryMb: config.SANDBOX_MEMORY_MB,
    prewarmPdfThreads: config.QUEUE_CLASS === 'large',
    log: (message, detail) => logger.warn(message, { detail }),
  });
  return {
    config,
    store: taskStore(config.TABLE_NAME),
    blobs: blobStore(),
    clock: systemClock,
    metrics: taskMetrics,
    events: eventSink(config),
    announcements: new Announcements(),
    newId: randomUUID,
    fetchSource,
    processDocument: (input, options, context) => sandbox.process(input, options, context),
    readPart: (input, options, context) => sandbox.readPart(input, options, context),
    assembleParts: (parts, options, context) => sandbox.assemble(parts, options, context),
    parts: config.PAGES_QUEUE_URL && config.OCR_FAN_OUT_MIN_PAGES > 0 ? partQueue(config.PAGES_QUEUE_URL) : undefined,
    sandbox,
    resultCache: resultCache(config.TABLE_NAME),
    progressIntervalMs: 1000,
    ...(config.FIGURE_MODEL_ID ? { vision: new BedrockVisionModel(config.FIGURE_MODEL_ID) } : {}),
    ...(Object.values(config.KB_DESTINATIONS).some((destination) => destination.knowledgeBaseId)
      ? { ingestion: knowledgeBaseIngestion(), batches: batchStore(config.TABLE_NAME) }
      : {}),
  };
};

/** Built once per cold start from the function's environment. */
export const workerDeps = once(() => buildWorkerDeps(process.env));
