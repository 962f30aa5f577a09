import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { AWS_METRICS } from '../../lib/alarms.js';
import { parseDeploymentConfig } from '../../lib/config.js';
import { METRIC_DIMENSIONS, METRIC_NAMES, SERVICE_NAME, type MetricName } from '../../shared/definitions.js';
import { checkAlarmQueries, parse, typeOf, type MathType } from '../../lib/metric-math.js';
import { ensureSynth } from '../support/synth.js';

/**
 * The synthesized alarms and dashboard, checked as CloudWatch would check
 * them at deploy time and as they would behave after: every alarm's math is
 * one PutMetricAlarm accepts, every metric named is one that will have data
 * (an AWS metric of a resource of this stack, or a custom metric with the
 * dimensions the code publishes it with), and every log widget reads a log
 * group a function of this stack writes to.
 */
type Resource = { Type: string; Properties: Record<string, any> };
let resources: Record<string, Resource>;
const NAMESPACE = parseDeploymentConfig({}).metricsNamespace;

beforeAll(async () => {
  const cdkOut = await ensureSynth(inject('runId'));
  resources = JSON.parse(readFileSync(join(cdkOut, 'DocProc.template.json'), 'utf8')).Resources;
});

const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
const alarms = () => ofType('AWS::CloudWatch::Alarm');

interface MetricReference {
  Namespace: string;
  MetricName: string;
  Dimensions?: Array<{ Name: string; Value: unknown }>;
}

/** Why a metric would never have data here, or undefined when it will. */
const problemWith = (metric: MetricReference): string | undefined => {
  const dimensions = metric.Dimensions ?? [];
  const aws = AWS_METRICS[metric.Namespace as keyof typeof AWS_METRICS];
  if (aws) {
    if (!(aws.metrics as readonly string[]).includes(metric.MetricName)) {
      return `${metric.Namespace} ${metric.MetricName} is not a metric the service reads`;
    }
    if (dimensions.length !== 1 || dimensions[0]!.Name !== aws.dimension) {
      return `${metric.MetricName} must be by ${aws.dimension} alone`;
    }
    const value = dimensions[0]!.Value as any;
    const target =
      metric.Namespace === 'AWS/Lambda'
        ? resources[value?.Ref]?.Type === 'AWS::Lambda::Function'
        : metric.Namespace === 'AWS/SQS'
          ? value?.['Fn::GetAtt']?.[1] === 'QueueName' && resources[value['Fn::GetAtt'][0]]?.Type === 'AWS::SQS::Queue'
          : ofType('AWS::ApiGateway::RestApi').some(([, api]) => api.Properties.Name === value);
    return target ? undefined : `${metric.MetricName}: ${JSON.stringify(value)} is no resource of this stack`;
  }
  if (metric.Namespace !== NAMESPACE) return `namespace ${metric.Namespace}: neither AWS's nor the service's`;
  if (!(Object.values(METRIC_NAMES) as string[]).includes(metric.MetricName)) {
    return `${metric.MetricName} is not published by the service`;
  }
  const names = dimensions.map((dimension) => dimension.Name).sort();
  const published = ['service', ...METRIC_DIMENSIONS[metric.MetricName as MetricName]].sort();
  if (JSON.stringify(names) !== JSON.stringify(published)) {
    return `${metric.MetricName} is published by ${published.join(', ')}, not ${names.join(', ')}`;
  }
  const service = dimensions.find((dimension) => dimension.Name === 'service');
  return service?.Value === SERVICE_NAME ? undefined : `${metric.MetricName}: service must be ${SERVICE_NAME}`;
};

describe('alarms, as CloudWatch takes them', () => {
  it("each alarm's math is one PutMetricAlarm accepts: ids, ten metrics at most, one series returned", () => {
    const problems = alarms().flatMap(([id, alarm]) => {
      const metrics = alarm.Properties.Metrics as any[] | undefined;
      if (!metrics) return alarm.Properties.MetricName ? [] : [`${id}: neither a metric nor metric math`];
      return checkAlarmQueries(
        metrics.map((entry) => ({
          id: entry.Id,
          expression: entry.Expression,
          metric: entry.MetricStat,
          returnData: entry.ReturnData,
        })),
      ).map((problem) => `${id}: ${problem}`);
    });
    expect(problems).toEqual([]);
  });

  it('each alarm watches metrics that will have data', () => {
    const problems = alarms().flatMap(([id, alarm]) => {
      const metrics: MetricReference[] = alarm.Properties.Metrics
        ? (alarm.Properties.Metrics as any[])
            .filter((entry) => entry.MetricStat)
            .map((entry) => entry.MetricStat.Metric)
        : [alarm.Properties as MetricReference];
      return metrics.flatMap((metric) => {
        const problem = problemWith(metric);
        return problem ? [`${id}: ${problem}`] : [];
      });
    });
    expect(problems).toEqual([]);
  });

  it('lets CloudWatch publish to the alarm topic (its SSL-only policy replaces the default one)', () => {
    const [topicId] = ofType('AWS::SNS::Topic')[0]!;
    const [, policy] = ofType('AWS::SNS::TopicPolicy').find(([, candidate]) =>
      candidate.Properties.Topics.some((topic: { Ref: string }) => topic.Ref === topicId),
    )!;
    const statements = policy.Properties.PolicyDocument.Statement as any[];
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        // Only alarms of this account.
        Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': expect.anything() } }),
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });
});

describe('dashboard, as CloudWatch renders it', () => {
  /** The body's parts: strings, and tokens (Refs, GetAtts) where CloudFormation fills in names. */
  const bodyParts = () => {
    const [, dashboard] = ofType('AWS::CloudWatch::Dashboard')[0]!;
    return (dashboard.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
  };
  const widgets = () =>
    JSON.parse(
      bodyParts()
        .map((part) => (typeof part === 'string' ? part : 'TOKEN'))
        .join(''),
    ).widgets as Array<{
      type: string;
      properties: Record<string, any>;
    }>;

  it('every math expression of a graph parses and types (SEARCH allowed)', () => {
    const problems: string[] = [];
    for (const widget of widgets().filter((candidate) => candidate.type === 'metric')) {
      const entries = widget.properties.metrics as unknown[][];
      const ids: Record<string, MathType> = {};
      for (const entry of entries) {
        const options = entry.at(-1) as { id?: string; expression?: string };
        if (options?.id && !options.expression) ids[options.id] = 'series';
      }
      for (const entry of entries) {
        const options = entry.at(-1) as { expression?: string };
        if (!options?.expression) continue;
        try {
          typeOf(parse(options.expression), { ids, allowSearch: true });
        } catch (error) {
          problems.push(`${widget.properties.title}: ${(error as Error).message}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('every log widget reads the log groups the workers write to', () => {
    const parts = bodyParts();
    const sources = parts.flatMap((part, index) =>
      typeof parts[index - 1] === 'string' && (parts[index - 1] as string).endsWith("SOURCE '") ? [part] : [],
    );
    const logWidgets = widgets().filter((candidate) => candidate.type === 'log');
    expect(sources).toHaveLength(logWidgets.length * 2);
    const functionLogGroups = new Set(
      ofType('AWS::Lambda::Function').map(([, fn]) => fn.Properties.LoggingConfig?.LogGroup?.Ref),
    );
    for (const source of sources) {
      const ref = (source as { Ref?: string }).Ref;
      expect(resources[ref ?? '']?.Type, JSON.stringify(source)).toBe('AWS::Logs::LogGroup');
      expect(functionLogGroups.has(ref)).toBe(true);
    }
  });

  it('names the REST API after the stack, so two stacks in one account keep their metrics apart', () => {
    const [[, api]] = ofType('AWS::ApiGateway::RestApi') as [[string, Resource]];
    expect(api.Properties.Name).toBe('DocProc-api');
  });
});
