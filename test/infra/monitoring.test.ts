import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { METRIC_NAMES } from '../../lib/definitions.js';
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
      expect(names).toHaveLength(3);
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
  const byDescription = (text: string) =>
    alarms().filter((alarm) => String(alarm.Properties.AlarmDescription).includes(text));

  it('all notify the SNS topic, on alarm and on recovery', () => {
    expect(alarms()).toHaveLength(10);
    for (const alarm of alarms()) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId() }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId() }]);
    }
  });

  it('fire on any message in a DLQ', () => {
    const dlq = byDescription('DLQ');
    expect(dlq).toHaveLength(3);
    for (const alarm of dlq) {
      expect(alarm.Properties).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        Statistic: 'Maximum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('fire when the oldest message is older than the configured age', () => {
    const age = byDescription('oldest message');
    expect(age).toHaveLength(3);
    for (const alarm of age) {
      expect(alarm.Properties).toMatchObject({
        MetricName: 'ApproximateAgeOfOldestMessage',
        Statistic: 'Maximum',
        Threshold: 900,
        EvaluationPeriods: 5,
      });
    }
  });

  it('fire on a worker error rate above 5%', () => {
    const rate = byDescription('invocations fail');
    expect(rate).toHaveLength(2);
    for (const alarm of rate) {
      expect(alarm.Properties.Threshold).toBe(5);
      const expression = alarm.Properties.Metrics.find((metric: { Expression?: string }) => metric.Expression);
      expect(expression.Expression).toBe('100 * errors / MAX([invocations, 1])');
      const names = alarm.Properties.Metrics.filter((metric: any) => metric.MetricStat).map(
        (metric: any) => metric.MetricStat.Metric.MetricName,
      );
      expect(names.sort()).toEqual(['Errors', 'Invocations']);
    }
  });

  it('fire on an API 5xx rate above 1% and on any throttling', () => {
    expect(byDescription('5xx')[0]!.Properties).toMatchObject({
      MetricName: '5XXError',
      Namespace: 'AWS/ApiGateway',
      Statistic: 'Average',
      Threshold: 0.01,
    });
    const throttles = byDescription('throttled')[0]!.Properties;
    expect(throttles.Threshold).toBe(1);
    expect(
      throttles.Metrics.filter((metric: any) => metric.MetricStat?.Metric.MetricName === 'Throttles'),
    ).toHaveLength(9);
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
