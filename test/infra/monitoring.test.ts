import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { alarmSpecs, THROTTLE_GROUPS } from '../../lib/alarms.js';
import { parseDeploymentConfig } from '../../lib/config.js';
import { METRIC_NAMES } from '../../shared/definitions.js';
import { ensureSynth } from '../support/synth.js';

type Resource = { Type: string; Properties: Record<string, any> };
let resources: Record<string, Resource>;
let widgets: Array<{ type: string; properties: Record<string, any> }>;

/** The dashboard body with every CloudFormation token replaced by a placeholder, parsed. */
const dashboardBody = (body: unknown): { widgets: typeof widgets } => {
  const parts = (body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
  return JSON.parse(parts.map((part) => (typeof part === 'string' ? part : 'TOKEN')).join(''));
};

beforeAll(async () => {
  const cdkOut = await ensureSynth(inject('runId'));
  resources = JSON.parse(readFileSync(join(cdkOut, 'DocProc.template.json'), 'utf8')).Resources;
  const [dashboard] = Object.values(resources).filter((resource) => resource.Type === 'AWS::CloudWatch::Dashboard');
  widgets = dashboardBody(dashboard!.Properties.DashboardBody).widgets;
});

const widget = (title: string) => {
  const found = widgets.find((candidate) => candidate.properties.title === title);
  if (!found) throw new Error(`no widget "${title}"; have ${widgets.map((w) => w.properties.title).join(', ')}`);
  return found.properties;
};
const metricNames = (title: string) =>
  (widget(title).metrics as unknown[][]).map((metric) => metric.filter((item) => typeof item === 'string').join(' '));

const alarms = () => Object.values(resources).filter((resource) => resource.Type === 'AWS::CloudWatch::Alarm');
const topicId = () => Object.entries(resources).find(([, resource]) => resource.Type === 'AWS::SNS::Topic')![0];

describe('dashboard', () => {
  it('shows queue depth, messages in flight, oldest message age per queue, and DLQ depth', () => {
    for (const [title, metric] of [
      ['Queue depth (visible)', 'ApproximateNumberOfMessagesVisible'],
      ['Messages in flight', 'ApproximateNumberOfMessagesNotVisible'],
      ['Age of oldest message (s)', 'ApproximateAgeOfOldestMessage'],
      ['Dead-letter queue depth', 'ApproximateNumberOfMessagesVisible'],
    ] as const) {
      const names = metricNames(title);
      expect(names).toHaveLength(6);
      for (const name of names) expect(name).toContain(`AWS/SQS ${metric}`);
      expect(widget(title).stat ?? 'Maximum').toBe('Maximum');
    }
  });

  it('shows worker invocations, errors, throttles, concurrency and duration percentiles', () => {
    const names = metricNames('Worker invocations / errors / throttles');
    for (const metric of ['Invocations', 'Errors', 'Throttles'])
      expect(names.filter((name) => name.includes(`AWS/Lambda ${metric}`))).toHaveLength(2);
    expect(metricNames('Worker concurrency').every((name) => name.includes('ConcurrentExecutions'))).toBe(true);
    const duration = widget('Worker duration p50 / p95 / p99 (ms)').metrics as unknown[][];
    const stats = duration.map((metric) => (metric.at(-1) as { stat: string }).stat);
    expect(stats.sort()).toEqual(['p50', 'p50', 'p95', 'p95', 'p99', 'p99']);
  });

  it('shows API requests, 4xx, 5xx and latency percentiles', () => {
    const names = metricNames('API requests, 4xx, 5xx');
    expect(names.map((name) => name.split(' ')[1])).toEqual(['Count', '4XXError', '5XXError']);
    const latency = widget('API latency p50 / p95 / p99 (ms)').metrics as unknown[][];
    expect(latency.map((metric) => (metric.at(-1) as { stat: string }).stat)).toEqual(['p50', 'p95', 'p99']);
  });

  it('shows every custom metric', () => {
    const text = JSON.stringify(widgets);
    for (const name of Object.values(METRIC_NAMES)) expect(text).toContain(name);
    expect(text).toContain('SEARCH(\'{DocProc,service,ErrorCode} MetricName=\\"TasksFailed\\"\'');
    expect(text).toContain('SEARCH(\'{DocProc,service,SourceType} MetricName=\\"TasksSubmitted\\"\'');
  });

  it('has Logs Insights widgets for recent tasks and failures by code', () => {
    const logs = widgets.filter((candidate) => candidate.type === 'log');
    expect(logs.map((candidate) => candidate.properties.title)).toEqual([
      'Recent tasks (worker logs)',
      'Failures by code (last period)',
    ]);
    expect(logs[0]!.properties.query).toContain('filter ispresent(task_id)');
    expect(logs[1]!.properties.query).toContain('stats count(*) as failures by code');
  });
});

describe('alarms', () => {
  const byId = (id: string) => {
    const found = Object.entries(resources).find(
      ([logicalId, resource]) => resource.Type === 'AWS::CloudWatch::Alarm' && logicalId.startsWith(`Monitoring${id}`),
    );
    if (!found) throw new Error(`no alarm ${id}`);
    return found[1].Properties;
  };

  it('are the alarms of lib/alarms.ts, and all notify the SNS topic, on alarm and on recovery', () => {
    const specs = alarmSpecs(parseDeploymentConfig({}));
    expect(alarms()).toHaveLength(specs.length);
    for (const spec of specs) expect(byId(spec.id).AlarmDescription).toBe(spec.description);
    for (const alarm of alarms()) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId() }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId() }]);
    }
  });

  it('count what the DLQ consumers receive (they drain their queues within seconds), and the depth of the unconsumed one', () => {
    for (const label of ['Standard', 'Large']) {
      expect(byId(`${label}DeadLettered`)).toMatchObject({
        MetricName: 'NumberOfMessagesReceived',
        Namespace: 'AWS/SQS',
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
      expect(byId(`${label}DeadLettersStuck`)).toMatchObject({ MetricName: 'ApproximateAgeOfOldestMessage' });
    }
    for (const id of ['UploadEventsDeadLetters', 'WebhookDeliveriesDeadLetters', 'BatchJobsDeadLetters']) {
      expect(byId(id)).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible' });
    }
    // Each watches a DLQ: the queue a redrive policy names.
    const deadLetterQueues = new Set(
      Object.values(resources).flatMap((resource) =>
        resource.Type === 'AWS::SQS::Queue' && resource.Properties.RedrivePolicy
          ? [resource.Properties.RedrivePolicy.deadLetterTargetArn['Fn::GetAtt'][0] as string]
          : [],
      ),
    );
    for (const id of [
      'StandardDeadLettered',
      'LargeDeadLettered',
      'UploadEventsDeadLetters',
      'WebhookDeliveriesDeadLetters',
      'BatchJobsDeadLetters',
    ]) {
      expect(deadLetterQueues.has(byId(id).Dimensions[0].Value['Fn::GetAtt'][0])).toBe(true);
    }
  });

  it('fire when the oldest message is older than the configured age, except for delayed webhook retries', () => {
    for (const label of ['Standard', 'Large', 'UploadEvents', 'BatchJobs']) {
      expect(byId(`${label}OldestMessage`)).toMatchObject({
        MetricName: 'ApproximateAgeOfOldestMessage',
        Statistic: 'Maximum',
        Threshold: 900,
        EvaluationPeriods: 5,
      });
    }
    expect(() => byId('WebhookDeliveriesOldestMessage')).toThrow();
  });

  it('fire on any webhook delivery given up, from the metric the consumer publishes', () => {
    expect(byId('WebhookDeliveriesFailed')).toMatchObject({
      MetricName: 'WebhookDeliveriesFailed',
      Namespace: 'DocProc',
      Dimensions: [{ Name: 'service', Value: 'docproc' }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('fire on a worker error rate above 5%, computed only where there were invocations', () => {
    for (const label of ['Worker', 'LargeWorker']) {
      const alarm = byId(`${label}ErrorRate`);
      expect(alarm.Threshold).toBe(5);
      const expression = alarm.Metrics.find((metric: { Expression?: string }) => metric.Expression);
      expect(expression.Expression).toBe('IF(invocations > 0, 100 * FILL(errors, 0) / invocations, 0)');
    }
  });

  it('fire on an API 5xx rate above 1% and on any throttling, each group within the ten-metric limit', () => {
    expect(byId('Api5xxRate')).toMatchObject({
      MetricName: '5XXError',
      Namespace: 'AWS/ApiGateway',
      Statistic: 'Average',
      Threshold: 0.01,
    });
    const throttled = new Set<string>();
    for (const group of THROTTLE_GROUPS) {
      const alarm = byId(group.id);
      expect(alarm.Threshold).toBe(1);
      for (const metric of alarm.Metrics.filter((entry: any) => entry.MetricStat)) {
        expect(metric.MetricStat.Metric.MetricName).toBe('Throttles');
        throttled.add(metric.MetricStat.Metric.Dimensions[0].Value.Ref);
      }
    }
    // Every function of the stack is in one group.
    const functionIds = Object.entries(resources)
      .filter(
        ([id, resource]) => resource.Type === 'AWS::Lambda::Function' && !id.startsWith('BucketNotificationsHandler'),
      )
      .map(([id]) => id);
    expect([...throttled].sort()).toEqual(functionIds.sort());
  });

  it('e-mails the configured address when alarmEmail is set', async () => {
    const { synthesizeApp, ARTIFACTS } = await import('../support/synth.js');
    const { assembly } = synthesizeApp(join(ARTIFACTS, 'cdk.out.email'), { alarmEmail: 'ops@example.com' }, false);
    const template = assembly.getStackByName('DocProc').template as { Resources: Record<string, Resource> };
    const subscription = Object.values(template.Resources).find(
      (resource) => resource.Type === 'AWS::SNS::Subscription',
    );
    expect(subscription?.Properties).toMatchObject({ Protocol: 'email', Endpoint: 'ops@example.com' });
  });
});
