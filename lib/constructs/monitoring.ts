import { Duration, Validations } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  LogQueryWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC_NAMES, SERVICE_NAME } from '../definitions.js';

export interface MonitoredQueue {
  label: string;
  queue: Queue;
  deadLetters: Queue;
}

export interface MonitoringProps {
  namespace: string;
  api: RestApi;
  /** The worker functions (standard and large). */
  workers: Array<{ label: string; fn: IFunction }>;
  /** Functions whose throttles raise the alarm (ten at most). */
  functions: IFunction[];
  queues: MonitoredQueue[];
  /** Alarm when the oldest waiting message is older than this. */
  queueAgeAlarmSeconds: number;
  /** Subscribed to the alarm topic when given. */
  alarmEmail?: string | undefined;
}

const FIVE_MINUTES = Duration.minutes(5);
const ONE_MINUTE = Duration.minutes(1);

/**
 * What Flower showed operators, on CloudWatch: one dashboard (queues, DLQs,
 * workers, API, task metrics, recent tasks and failures from the logs) and
 * alarms that page through an SNS topic.
 */
export class Monitoring extends Construct {
  readonly dashboard: Dashboard;
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Alarms', { displayName: 'docproc alarms', enforceSSL: true });
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry no document data; CloudWatch alarms cannot publish to a topic under the AWS-managed SNS key.',
    });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.topic);
    const alarm = (construct: Alarm) => {
      construct.addAlarmAction(action);
      construct.addOkAction(action);
      this.alarms.push(construct);
      return construct;
    };

    const custom = (name: string, statistic: string, dimensions?: Record<string, string>) =>
      new Metric({
        namespace: props.namespace,
        metricName: name,
        statistic,
        period: FIVE_MINUTES,
        dimensionsMap: { service: SERVICE_NAME, ...dimensions },
      });

    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: undefined, defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new TextWidget({
        width: 24,
        height: 2,
        markdown:
          '# docproc\nQueues and DLQs (is work piling up?), workers (are they failing, throttled, slow?), API (are clients getting errors?), tasks (what is being done), and the logs of recent tasks and failures.',
      }),
    );

    // Queues: depth, in flight, age of the oldest message; DLQ depth.
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Queue depth (visible)',
        width: 6,
        left: props.queues.map(({ label, queue }) =>
          queue.metricApproximateNumberOfMessagesVisible({ label, period: ONE_MINUTE, statistic: 'Maximum' }),
        ),
      }),
      new GraphWidget({
        title: 'Messages in flight',
        width: 6,
        left: props.queues.map(({ label, queue }) =>
          queue.metricApproximateNumberOfMessagesNotVisible({ label, period: ONE_MINUTE, statistic: 'Maximum' }),
        ),
      }),
      new GraphWidget({
        title: 'Age of oldest message (s)',
        width: 6,
        left: props.queues.map(({ label, queue }) =>
          queue.metricApproximateAgeOfOldestMessage({ label, period: ONE_MINUTE, statistic: 'Maximum' }),
        ),
      }),
      new GraphWidget({
        title: 'Dead-letter queue depth',
        width: 6,
        left: props.queues.map(({ label, deadLetters }) =>
          deadLetters.metricApproximateNumberOfMessagesVisible({
            label: `${label} DLQ`,
            period: ONE_MINUTE,
            statistic: 'Maximum',
          }),
        ),
      }),
    );

    // Workers.
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Worker invocations / errors / throttles',
        width: 8,
        left: props.workers.flatMap(({ label, fn }) => [
          fn.metricInvocations({ label: `${label} invocations`, period: ONE_MINUTE }),
          fn.metricErrors({ label: `${label} errors`, period: ONE_MINUTE }),
          fn.metricThrottles({ label: `${label} throttles`, period: ONE_MINUTE }),
        ]),
      }),
      new GraphWidget({
        title: 'Worker concurrency',
        width: 8,
        left: props.workers.map(({ label, fn }) =>
          fn.metric('ConcurrentExecutions', { label, statistic: 'Maximum', period: ONE_MINUTE }),
        ),
      }),
      new GraphWidget({
        title: 'Worker duration p50 / p95 / p99 (ms)',
        width: 8,
        left: props.workers.flatMap(({ label, fn }) =>
          ['p50', 'p95', 'p99'].map((statistic) =>
            fn.metricDuration({ label: `${label} ${statistic}`, statistic, period: FIVE_MINUTES }),
          ),
        ),
      }),
    );

    // API.
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'API requests, 4xx, 5xx',
        width: 12,
        left: [
          props.api.metricCount({ label: 'requests', period: ONE_MINUTE }),
          props.api.metricClientError({ label: '4xx', period: ONE_MINUTE }),
          props.api.metricServerError({ label: '5xx', period: ONE_MINUTE }),
        ],
      }),
      new GraphWidget({
        title: 'API latency p50 / p95 / p99 (ms)',
        width: 12,
        left: ['p50', 'p95', 'p99'].map((statistic) =>
          props.api.metricLatency({ label: statistic, statistic, period: FIVE_MINUTES }),
        ),
      }),
    );

    // Tasks (custom metrics).
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Tasks started / succeeded / revoked',
        width: 8,
        left: [
          custom(METRIC_NAMES.started, 'Sum'),
          custom(METRIC_NAMES.succeeded, 'Sum'),
          custom(METRIC_NAMES.revoked, 'Sum'),
        ],
      }),
      new GraphWidget({
        title: 'Tasks submitted by source, failed by code',
        width: 8,
        left: [
          new MathExpression({
            label: 'submitted',
            expression: `SUM(SEARCH('{${props.namespace},service,SourceType} MetricName="${METRIC_NAMES.submitted}"', 'Sum', 300))`,
            period: FIVE_MINUTES,
          }),
        ],
        right: [
          new MathExpression({
            label: 'failed by code',
            expression: `SEARCH('{${props.namespace},service,ErrorCode} MetricName="${METRIC_NAMES.failed}"', 'Sum', 300)`,
            period: FIVE_MINUTES,
          }),
        ],
      }),
      new GraphWidget({
        title: 'Queue wait and processing time p50 / p95 (ms)',
        width: 8,
        left: ['p50', 'p95'].flatMap((statistic) => [
          custom(METRIC_NAMES.queueWait, statistic),
          custom(METRIC_NAMES.processingDuration, statistic),
        ]),
      }),
      new GraphWidget({
        title: 'Pages, bytes and documents produced',
        width: 24,
        left: [custom(METRIC_NAMES.pages, 'Sum'), custom(METRIC_NAMES.documents, 'Sum')],
        right: [custom(METRIC_NAMES.bytes, 'Sum')],
      }),
    );

    // Logs Insights.
    const workerLogs = props.workers.map(({ fn }) => `/aws/lambda/${fn.functionName}`);
    this.dashboard.addWidgets(
      new LogQueryWidget({
        title: 'Recent tasks (worker logs)',
        width: 12,
        logGroupNames: workerLogs,
        queryLines: [
          'fields @timestamp, task_id, attempt, level, message, code',
          'filter ispresent(task_id)',
          'sort @timestamp desc',
          'limit 50',
        ],
      }),
      new LogQueryWidget({
        title: 'Failures by code (last period)',
        width: 12,
        logGroupNames: workerLogs,
        queryLines: [
          "filter message = 'Task failed' or message like /Dead-lettered/",
          'stats count(*) as failures by code',
          'sort failures desc',
        ],
      }),
    );

    // Alarms.
    for (const { label, queue, deadLetters } of props.queues) {
      alarm(
        new Alarm(this, `${label}DeadLetters`, {
          alarmDescription: `Messages in the ${label} DLQ: tasks whose worker failed on every delivery. Their tasks are FAILURE (WORKER_CRASHED / TIME_LIMIT_EXCEEDED); read the worker logs for their task_id.`,
          metric: deadLetters.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: ONE_MINUTE }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
      alarm(
        new Alarm(this, `${label}OldestMessage`, {
          alarmDescription: `The oldest message in the ${label} queue has waited more than ${props.queueAgeAlarmSeconds} s: workers cannot keep up (raise the concurrency) or are failing.`,
          metric: queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: ONE_MINUTE }),
          threshold: props.queueAgeAlarmSeconds,
          evaluationPeriods: 5,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    for (const { label, fn } of props.workers) {
      alarm(
        new Alarm(this, `${label}ErrorRate`, {
          alarmDescription: `More than 5% of ${label} invocations fail: crashes, timeouts or AWS errors; see the worker logs.`,
          metric: new MathExpression({
            expression: '100 * errors / MAX([invocations, 1])',
            usingMetrics: {
              errors: fn.metricErrors({ statistic: 'Sum', period: FIVE_MINUTES }),
              invocations: fn.metricInvocations({ statistic: 'Sum', period: FIVE_MINUTES }),
            },
            period: FIVE_MINUTES,
          }),
          threshold: 5,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    alarm(
      new Alarm(this, 'Api5xxRate', {
        alarmDescription: "More than 1% of API requests answer 5xx: see the API functions' logs for the request ids.",
        metric: props.api.metricServerError({ statistic: 'Average', period: FIVE_MINUTES }),
        threshold: 0.01,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );
    alarm(
      new Alarm(this, 'Throttles', {
        alarmDescription: 'Lambda throttled invocations: the account or function concurrency limit was reached.',
        metric: new MathExpression({
          expression: props.functions.map((_, index) => `t${index}`).join(' + '),
          usingMetrics: Object.fromEntries(
            props.functions.map((fn, index) => [
              `t${index}`,
              fn.metricThrottles({ statistic: 'Sum', period: FIVE_MINUTES }),
            ]),
          ),
          period: FIVE_MINUTES,
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}
