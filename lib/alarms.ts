import type { DeploymentConfig } from './config.js';
import { METRIC_NAMES, type MetricName } from '../shared/definitions.js';
import type { FunctionName } from './function-catalogue.js';

/**
 * The service's alarms as plain data. The CDK stack creates CloudWatch alarms
 * from them (lib/constructs/monitoring.ts); the embedded stack evaluates the
 * same records against its own metrics and shows their states on its monitor
 * page (local/metrics.ts). A metric is named by what it measures (a function,
 * a queue, the API, a custom metric); each side resolves where it is.
 */
export type QueueId = 'standard' | 'large' | 'pages' | 'uploadEvents' | 'webhookDeliveries' | 'batchJobs';

/** The AWS metrics the service reads, per namespace, and the dimension that names the resource. */
export const AWS_METRICS = {
  'AWS/Lambda': {
    dimension: 'FunctionName',
    metrics: ['Invocations', 'Errors', 'Throttles', 'Duration', 'ConcurrentExecutions'],
  },
  'AWS/SQS': {
    dimension: 'QueueName',
    metrics: [
      'ApproximateNumberOfMessagesVisible',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateAgeOfOldestMessage',
      'NumberOfMessagesReceived',
      'NumberOfMessagesSent',
      'NumberOfMessagesDeleted',
    ],
  },
  'AWS/ApiGateway': {
    dimension: 'ApiName',
    metrics: ['Count', '4XXError', '5XXError', 'Latency', 'IntegrationLatency'],
  },
} as const;

export type MetricSource =
  | { service: 'lambda'; function: FunctionName; metric: (typeof AWS_METRICS)['AWS/Lambda']['metrics'][number] }
  | {
      service: 'sqs';
      queue: QueueId;
      deadLetters?: boolean;
      metric: (typeof AWS_METRICS)['AWS/SQS']['metrics'][number];
    }
  | { service: 'apigateway'; metric: (typeof AWS_METRICS)['AWS/ApiGateway']['metrics'][number] }
  | {
      service: 'custom';
      metric: MetricName;
      /** Beyond `service`: the ones the metric is published with (see METRIC_DIMENSIONS). */
      dimensions?: Record<string, string>;
    };

export type Statistic = 'Sum' | 'Maximum' | 'Minimum' | 'Average' | 'SampleCount' | `p${number}`;

export interface MetricQuerySpec {
  /** Its id in the alarm's math (a lowercase letter first). */
  id: string;
  source: MetricSource;
  stat: Statistic;
  periodSeconds: number;
}

export type ComparisonOperator =
  'GreaterThanOrEqualToThreshold' | 'GreaterThanThreshold' | 'LessThanThreshold' | 'LessThanOrEqualToThreshold';

export type MissingData = 'notBreaching' | 'breaching' | 'ignore' | 'missing';

export interface AlarmSpec {
  /** The construct id, and the alarm's name locally. */
  id: string;
  description: string;
  metrics: MetricQuerySpec[];
  /** Metric math over the metrics' ids; without it, the alarm watches its one metric. */
  expression?: string;
  threshold: number;
  comparison: ComparisonOperator;
  evaluationPeriods: number;
  treatMissingData: MissingData;
}

interface MonitoredQueueSpec {
  id: QueueId;
  label: string;
  /** What a message in the DLQ means and where to look, when nothing consumes that DLQ (its depth is watched). */
  unconsumedDeadLetters?: string;
  /** Whether its messages should never wait long (not so for delayed retries). */
  watchAge: boolean;
}

const QUEUES: MonitoredQueueSpec[] = [
  { id: 'standard', label: 'Standard', watchAge: true },
  { id: 'large', label: 'Large', watchAge: true },
  { id: 'pages', label: 'Pages', watchAge: true },
  {
    id: 'uploadEvents',
    label: 'UploadEvents',
    // An event there is an upload that never started: the janitor recovers it.
    unconsumedDeadLetters:
      'upload events that failed on every delivery. The janitor starts or expires their tasks; the upload-events logs hold the cause.',
    watchAge: true,
  },
  {
    id: 'webhookDeliveries',
    label: 'WebhookDeliveries',
    unconsumedDeadLetters:
      "webhook deliveries the consumer itself failed on (the log, the queue or the task table failing; a receiver's errors are retried, not dead-lettered). Their deliveries stay pending; the webhook-deliveries logs hold the cause, and redeliver sends the event again.",
    // Retries wait in the queue on purpose, up to 15 minutes a hop.
    watchAge: false,
  },
  {
    id: 'batchJobs',
    label: 'BatchJobs',
    unconsumedDeadLetters:
      'batch pages that failed on every delivery: that batch stays LISTING (or its cancel or retry stopped part way). The batch-jobs logs hold the cause; cancelling or retrying the batch again resumes those sweeps.',
    watchAge: true,
  },
];

const WORKERS: Array<{ fn: FunctionName; label: string }> = [
  { fn: 'worker', label: 'Worker' },
  { fn: 'largeWorker', label: 'LargeWorker' },
  { fn: 'pageWorker', label: 'PageWorker' },
];

/** Throttles are summed per group; an alarm's math holds ten metrics at most, so a group holds ten functions. */
export const THROTTLE_GROUPS: Array<{ id: string; label: string; functions: FunctionName[] }> = [
  {
    id: 'ApiThrottles',
    label: 'API',
    functions: [
      'upload',
      'process',
      'uploadUrl',
      'getTask',
      'listTasks',
      'cancelTask',
      'retryTask',
      'listDeliveries',
      'redeliver',
      'preview',
    ],
  },
  {
    id: 'BatchApiThrottles',
    label: 'batch and figure API',
    functions: ['createBatch', 'getBatch', 'listBatchTasks', 'cancelBatch', 'retryBatch', 'getFigure'],
  },
  {
    id: 'BackgroundThrottles',
    label: 'queue and scheduled',
    functions: [
      'worker',
      'largeWorker',
      'pageWorker',
      'deadLetters',
      'uploadEvents',
      'janitor',
      'webhookDeliveries',
      'batchJobs',
    ],
  },
];

const ONE_MINUTE = 60;
const FIVE_MINUTES = 300;
const FIFTEEN_MINUTES = 900;

/** An alarm on one metric, quiet when it has no data (most of the service's): `evaluationPeriods` defaults to 1. */
const oneMetricAlarm = (alarm: {
  id: string;
  description: string;
  source: MetricSource;
  stat: Statistic;
  periodSeconds: number;
  threshold: number;
  comparison: ComparisonOperator;
  evaluationPeriods?: number;
}): AlarmSpec => ({
  id: alarm.id,
  description: alarm.description,
  metrics: [{ id: 'm', source: alarm.source, stat: alarm.stat, periodSeconds: alarm.periodSeconds }],
  threshold: alarm.threshold,
  comparison: alarm.comparison,
  evaluationPeriods: alarm.evaluationPeriods ?? 1,
  treatMissingData: 'notBreaching',
});

export const alarmSpecs = (config: DeploymentConfig): AlarmSpec[] => {
  const alarms: AlarmSpec[] = [];
  for (const { id, label, unconsumedDeadLetters, watchAge } of QUEUES) {
    if (!unconsumedDeadLetters) {
      // The DLQ consumer drains its queue within seconds, so its depth never shows: count what it receives.
      alarms.push(
        oneMetricAlarm({
          id: `${label}DeadLettered`,
          description: `Tasks dead-lettered from the ${label} queue: their worker failed on every delivery. Each is FAILURE (WORKER_CRASHED or TIME_LIMIT_EXCEEDED); the worker logs hold the cause under its task_id.`,
          source: { service: 'sqs', queue: id, deadLetters: true, metric: 'NumberOfMessagesReceived' },
          stat: 'Sum',
          periodSeconds: FIVE_MINUTES,
          threshold: 1,
          comparison: 'GreaterThanOrEqualToThreshold',
        }),
      );
      alarms.push(
        oneMetricAlarm({
          id: `${label}DeadLettersStuck`,
          description: `A message has waited in the ${label} DLQ for over an hour: the DLQ consumer is failing, and its task stays unfinished; see the dead-letter function's logs.`,
          source: { service: 'sqs', queue: id, deadLetters: true, metric: 'ApproximateAgeOfOldestMessage' },
          stat: 'Maximum',
          periodSeconds: FIVE_MINUTES,
          threshold: 3600,
          comparison: 'GreaterThanThreshold',
        }),
      );
    } else {
      alarms.push(
        oneMetricAlarm({
          id: `${label}DeadLetters`,
          description: `Messages in the ${label} DLQ: ${unconsumedDeadLetters}`,
          source: { service: 'sqs', queue: id, deadLetters: true, metric: 'ApproximateNumberOfMessagesVisible' },
          stat: 'Maximum',
          periodSeconds: ONE_MINUTE,
          threshold: 1,
          comparison: 'GreaterThanOrEqualToThreshold',
        }),
      );
    }
    if (!watchAge) continue;
    alarms.push(
      oneMetricAlarm({
        id: `${label}OldestMessage`,
        description: `The oldest message in the ${label} queue has waited more than ${config.queueAgeAlarmSeconds} s: workers cannot keep up (raise the concurrency) or are failing.`,
        source: { service: 'sqs', queue: id, metric: 'ApproximateAgeOfOldestMessage' },
        stat: 'Maximum',
        periodSeconds: ONE_MINUTE,
        threshold: config.queueAgeAlarmSeconds,
        comparison: 'GreaterThanThreshold',
        evaluationPeriods: 5,
      }),
    );
  }
  for (const { fn, label } of WORKERS) {
    alarms.push({
      id: `${label}ErrorRate`,
      description: `More than 5% of ${label} invocations fail: crashes, timeouts or AWS errors; see the worker logs.`,
      metrics: [
        {
          id: 'errors',
          source: { service: 'lambda', function: fn, metric: 'Errors' },
          stat: 'Sum',
          periodSeconds: FIVE_MINUTES,
        },
        {
          id: 'invocations',
          source: { service: 'lambda', function: fn, metric: 'Invocations' },
          stat: 'Sum',
          periodSeconds: FIVE_MINUTES,
        },
      ],
      // Periods without invocations have no rate (and no points): IF keeps the division to where there are some.
      expression: 'IF(invocations > 0, 100 * FILL(errors, 0) / invocations, 0)',
      threshold: 5,
      comparison: 'GreaterThanThreshold',
      evaluationPeriods: 1,
      treatMissingData: 'notBreaching',
    });
  }
  alarms.push(
    oneMetricAlarm({
      id: 'WebhookDeliveriesFailed',
      description:
        "Webhook deliveries given up after 24 h of retries: their receivers never answered 2xx. GET …/deliveries shows each attempt's status or error; POST …/redeliver sends one again.",
      source: { service: 'custom', metric: METRIC_NAMES.webhookFailed },
      stat: 'Sum',
      periodSeconds: FIVE_MINUTES,
      threshold: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
    }),
  );
  // The share of poor pages over a quarter of an hour, once enough pages were read to judge it.
  const graded = (id: string, grade: string): MetricQuerySpec => ({
    id,
    source: { service: 'custom', metric: METRIC_NAMES.pagesGraded, dimensions: { Grade: grade } },
    stat: 'Sum',
    periodSeconds: FIFTEEN_MINUTES,
  });
  alarms.push({
    id: 'PoorPages',
    description:
      "More than a fifth of the pages read in 15 minutes were graded poor (at least 20 pages): scans the OCR cannot read, garbled text layers, the wrong ocr_languages. The results' quality reports (docproc report TASK_ID) name the pages and the reasons.",
    metrics: [graded('good', 'good'), graded('fair', 'fair'), graded('poor', 'poor')],
    // A grade with no pages in the period reports nothing: FILL makes it 0, so the sum has points.
    expression:
      'IF(FILL(good, 0) + FILL(fair, 0) + FILL(poor, 0) >= 20, 100 * FILL(poor, 0) / (FILL(good, 0) + FILL(fair, 0) + FILL(poor, 0)), 0)',
    threshold: 20,
    comparison: 'GreaterThanThreshold',
    evaluationPeriods: 1,
    treatMissingData: 'notBreaching',
  });
  alarms.push({
    id: 'Api5xxRate',
    description: "More than 1% of API requests answer 5xx: see the API functions' logs for the request ids.",
    metrics: [
      { id: 'm', source: { service: 'apigateway', metric: '5XXError' }, stat: 'Average', periodSeconds: FIVE_MINUTES },
    ],
    threshold: 0.01,
    comparison: 'GreaterThanThreshold',
    evaluationPeriods: 1,
    treatMissingData: 'notBreaching',
  });
  for (const group of THROTTLE_GROUPS) {
    alarms.push({
      id: group.id,
      description: `Lambda throttled invocations of the ${group.label} functions: the account or function concurrency limit was reached.`,
      metrics: group.functions.map((fn, index) => ({
        id: `t${index}`,
        source: { service: 'lambda', function: fn, metric: 'Throttles' },
        stat: 'Sum',
        periodSeconds: FIVE_MINUTES,
      })),
      // A function that was never throttled reports nothing: a plain sum would have no points at all.
      expression: 'SUM(FILL(METRICS(), 0))',
      threshold: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 1,
      treatMissingData: 'notBreaching',
    });
  }
  return alarms;
};
