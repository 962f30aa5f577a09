import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import type { ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import {
  Alarm,
  Dashboard,
  GraphWidget,
  LogQueryWidget,
  MathExpression,
  Metric,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { AlarmSpec, MetricQuerySpec, QueueId } from '../alarms.js';
import { METRIC_NAMES, SERVICE_NAME } from '../../shared/definitions.js';
import type { FunctionName } from '../function-catalogue.js';

export interface MonitoredQueue {
  label: string;
  queue: Queue;
  deadLetters: Queue;
}

export interface MonitoringProps {
  namespace: string;
  api: RestApi;
  /** Every function of the catalogue. */
  functions: Record<FunctionName, LambdaFunction>;
  queues: Record<QueueId, MonitoredQueue>;
  /** The alarms to create (lib/alarms.ts). */
  alarms: AlarmSpec[];
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
    // enforceSSL gives the topic a policy of its own, which replaces the default one: CloudWatch needs an Allow.
    const stack = Stack.of(this);
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const queues = Object.values(props.queues);
    const workers = [
      { label: 'Worker', fn: props.functions.worker },
      { label: 'LargeWorker', fn: props.functions.largeWorker },
    ];
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
        left: queues.map(({ label, queue }) =>
          queue.metricApproximateNumberOfMessagesVisible({ label, period: ONE_MINUTE, statistic: 'Maximum' }),
        ),
      }),
      new GraphWidget({
        title: 'Messages in flight',
        width: 6,
        left: queues.map(({ label, queue }) =>
          queue.metricApproximateNumberOfMessagesNotVisible({ label, period: ONE_MINUTE, statistic: 'Maximum' }),
        ),
      }),
      new GraphWidget({
        title: 'Age of oldest message (s)',
        width: 6,
        left: queues.map(({ label, queue }) =>
          queue.metricApproximateAgeOfOldestMessage({ label, period: ONE_MINUTE, statistic: 'Maximum' }),
        ),
      }),
      new GraphWidget({
        title: 'Dead-letter queue depth',
        width: 6,
        left: queues.map(({ label, deadLetters }) =>
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
        left: workers.flatMap(({ label, fn }) => [
          fn.metricInvocations({ label: `${label} invocations`, period: ONE_MINUTE }),
          fn.metricErrors({ label: `${label} errors`, period: ONE_MINUTE }),
          fn.metricThrottles({ label: `${label} throttles`, period: ONE_MINUTE }),
        ]),
      }),
      new GraphWidget({
        title: 'Worker concurrency',
        width: 8,
        left: workers.map(({ label, fn }) =>
          fn.metric('ConcurrentExecutions', { label, statistic: 'Maximum', period: ONE_MINUTE }),
        ),
      }),
      new GraphWidget({
        title: 'Worker duration p50 / p95 / p99 (ms)',
        width: 8,
        left: workers.flatMap(({ label, fn }) =>
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
        width: 12,
        left: [custom(METRIC_NAMES.pages, 'Sum'), custom(METRIC_NAMES.documents, 'Sum')],
        right: [custom(METRIC_NAMES.bytes, 'Sum')],
      }),
      // How well pages were read (docs/reading.md, "Page quality"): a jump in poor pages is the PoorPages alarm.
      new GraphWidget({
        title: 'Pages by grade: good / fair / poor',
        width: 12,
        stacked: true,
        left: (['good', 'fair', 'poor'] as const).map((grade) =>
          custom(METRIC_NAMES.pagesGraded, 'Sum', { Grade: grade }),
        ),
      }),
    );

    // Webhooks: a failure here is a receiver that never answered 2xx in 24 h (the WebhookDeliveriesFailed alarm).
    // Events unsent: the bus or the webhook queue refused an announcement; the janitor sends it a minute on.
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Webhook deliveries succeeded / failed, events left for the sweep',
        width: 12,
        left: [custom(METRIC_NAMES.webhookDelivered, 'Sum')],
        right: [custom(METRIC_NAMES.webhookFailed, 'Sum'), custom(METRIC_NAMES.eventsUnsent, 'Sum')],
      }),
      // Hits are documents not parsed again: identical bytes and options, for the same key, within the TTL.
      new GraphWidget({
        title: 'Result cache hits / misses',
        width: 12,
        left: [custom(METRIC_NAMES.resultCacheHits, 'Sum'), custom(METRIC_NAMES.resultCacheMisses, 'Sum')],
      }),
    );

    // Logs Insights.
    // Each function logs to a log group of its own (not /aws/lambda/<name>).
    const workerLogs = workers.map(({ fn }) => fn.logGroup.logGroupName);
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
    const metricOf = (query: MetricQuerySpec) => {
      const options = { statistic: query.stat, period: Duration.seconds(query.periodSeconds) };
      const source = query.source;
      switch (source.service) {
        case 'lambda':
          return props.functions[source.function].metric(source.metric, options);
        case 'sqs': {
          const queue = props.queues[source.queue];
          return (source.deadLetters ? queue.deadLetters : queue.queue).metric(source.metric, options);
        }
        case 'apigateway':
          return props.api.metric(source.metric, options);
        case 'custom':
          return new Metric({
            namespace: props.namespace,
            metricName: source.metric,
            dimensionsMap: { service: SERVICE_NAME, ...source.dimensions },
            ...options,
          });
      }
    };
    for (const spec of props.alarms) {
      const [first] = spec.metrics;
      if (!first) throw new Error(`alarm ${spec.id} watches no metric`);
      alarm(
        new Alarm(this, spec.id, {
          alarmDescription: spec.description,
          metric: spec.expression
            ? new MathExpression({
                expression: spec.expression,
                usingMetrics: Object.fromEntries(spec.metrics.map((query) => [query.id, metricOf(query)])),
                period: Duration.seconds(first.periodSeconds),
              })
            : metricOf(first),
          threshold: spec.threshold,
          evaluationPeriods: spec.evaluationPeriods,
          comparisonOperator: spec.comparison as ComparisonOperator,
          treatMissingData: spec.treatMissingData as TreatMissingData,
        }),
      );
    }
  }
}
