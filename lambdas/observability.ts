import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ResultHeadline } from './documents/document.js';
import type { ErrorCode } from './errors.js';
import type { DeliveryMetrics, TaskMetrics } from './core/ports.js';
import type { TaskEvent, TaskSource } from './core/task.js';
import { METRIC_NAMES, SERVICE_NAME } from '../shared/definitions.js';

/**
 * One structured JSON logger per function (Powertools). Handlers add the
 * request id, task id and attempt to every line with `appendKeys`. What is
 * never logged: presigned URLs, API keys, document text, URL sources (their
 * query strings may carry credentials).
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });

/**
 * Custom metrics as CloudWatch EMF, under POWERTOOLS_METRICS_NAMESPACE (the
 * `metricsNamespace` setting), with the names and dimensions of
 * shared/definitions.ts (METRIC_NAMES, METRIC_DIMENSIONS) that the alarms and
 * the dashboard read.
 */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'DocProc',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
});

/** A metric with its own dimension, published at once (EMF allows one dimension set per document). */
const dimensioned = (name: string, dimension: string, value: string, count = 1) => {
  const single = metrics.singleMetric();
  single.addDimension(dimension, value);
  single.addMetric(name, MetricUnit.Count, count);
};

export const recordSubmitted = (source: TaskSource) => dimensioned(METRIC_NAMES.submitted, 'SourceType', source.type);

export const recordFailed = (code: ErrorCode) => dimensioned(METRIC_NAMES.failed, 'ErrorCode', code);

export const recordRevoked = () => metrics.addMetric(METRIC_NAMES.revoked, MetricUnit.Count, 1);

export const recordStarted = (queuedForMs: number) => {
  metrics.addMetric(METRIC_NAMES.started, MetricUnit.Count, 1);
  metrics.addMetric(METRIC_NAMES.queueWait, MetricUnit.Milliseconds, Math.max(0, queuedForMs));
};

export const recordSucceeded = (result: ResultHeadline, durationMs: number) => {
  metrics.addMetric(METRIC_NAMES.succeeded, MetricUnit.Count, 1);
  metrics.addMetric(METRIC_NAMES.processingDuration, MetricUnit.Milliseconds, durationMs);
  metrics.addMetric(METRIC_NAMES.bytes, MetricUnit.Bytes, result.stats.bytes);
  metrics.addMetric(METRIC_NAMES.documents, MetricUnit.Count, result.document_count);
  if (result.stats.pages !== undefined) metrics.addMetric(METRIC_NAMES.pages, MetricUnit.Count, result.stats.pages);
  // Pages by grade (documents/quality/grade.ts): what the dashboard charts and the PoorPages alarm watches.
  for (const [grade, count] of Object.entries(result.quality?.pages ?? {})) {
    if (count > 0) dimensioned(METRIC_NAMES.pagesGraded, 'Grade', grade, count);
  }
};

export const recordEventUnsent = (event: TaskEvent, error: unknown) => {
  logger.warn('An event could not be sent; the sweep will send it', {
    event_id: event.id,
    event_type: event.type,
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  });
  metrics.addMetric(METRIC_NAMES.eventsUnsent, MetricUnit.Count, 1);
};

export const recordResultCache = (outcome: 'hit' | 'miss') =>
  metrics.addMetric(
    outcome === 'hit' ? METRIC_NAMES.resultCacheHits : METRIC_NAMES.resultCacheMisses,
    MetricUnit.Count,
    1,
  );

/** The TaskMetrics port of the core (lifecycle.ts, submission.ts), on CloudWatch. */
export const taskMetrics: TaskMetrics = {
  submitted: recordSubmitted,
  started: recordStarted,
  succeeded: recordSucceeded,
  failed: recordFailed,
  revoked: recordRevoked,
  eventUnsent: recordEventUnsent,
  resultCache: recordResultCache,
};

/** The DeliveryMetrics port of the webhook consumer: the failed count is what the WebhookDeliveriesFailed alarm watches. */
export const deliveryMetrics: DeliveryMetrics = {
  delivered: () => metrics.addMetric(METRIC_NAMES.webhookDelivered, MetricUnit.Count, 1),
  failed: () => metrics.addMetric(METRIC_NAMES.webhookFailed, MetricUnit.Count, 1),
};

/** Flushes what an invocation recorded (nothing, when it recorded nothing). */
export const publishMetrics = () => {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
};
