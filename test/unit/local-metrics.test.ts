import { afterEach, describe, expect, it, vi } from 'vitest';
import { alarmSpecs, type MetricSource } from '../../lib/alarms.js';
import { parseDeploymentConfig } from '../../lib/config.js';
import { METRIC_DIMENSIONS, METRIC_NAMES, SERVICE_NAME } from '../../shared/definitions.js';
import { evaluateAlarm, LocalMetrics, type MetricKey } from '../../local/metrics.js';
import {
  deliveryMetrics,
  publishMetrics,
  recordFailed,
  recordRevoked,
  recordStarted,
  recordSubmitted,
  recordSucceeded,
  recordEventUnsent,
  recordResultCache,
} from '../../lambdas/observability.js';

const specs = alarmSpecs(parseDeploymentConfig({}));
const spec = (id: string) => specs.find((candidate) => candidate.id === id)!;
const resolve = (source: MetricSource): MetricKey => {
  switch (source.service) {
    case 'lambda':
      return { namespace: 'AWS/Lambda', name: source.metric, dimensions: { FunctionName: source.function } };
    case 'sqs':
      return {
        namespace: 'AWS/SQS',
        name: source.metric,
        dimensions: { QueueName: `${source.queue}${source.deadLetters ? '-dead-letters' : ''}` },
      };
    case 'apigateway':
      return { namespace: 'AWS/ApiGateway', name: source.metric, dimensions: { ApiName: 'api' } };
    case 'custom':
      return { namespace: 'DocProc', name: source.metric, dimensions: { service: SERVICE_NAME, ...source.dimensions } };
  }
};
const NOW = Date.UTC(2026, 10, 28, 12, 2, 30);

afterEach(() => vi.restoreAllMocks());

describe('custom metrics', () => {
  it('are published with the dimensions METRIC_DIMENSIONS names (what alarms and graphs may use)', () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    });
    recordSubmitted({ type: 'upload', filename: 'a.txt', size_bytes: 1 });
    recordFailed('DOCUMENT_PARSE_ERROR');
    recordRevoked();
    recordStarted(5);
    recordSucceeded(
      {
        format: 'pdf',
        document_count: 2,
        stats: { bytes: 10, pages: 4 },
        quality: { grade: 'poor', pages: { good: 3, fair: 0, poor: 1 }, rungs: {}, poor_pages: [4] },
      } as Parameters<typeof recordSucceeded>[0],
      7,
    );
    deliveryMetrics.delivered();
    deliveryMetrics.failed();
    recordEventUnsent(
      { id: '11111111-1111-4111-8111-111111111111', type: 'task.started', occurred_at: '2026-11-28T00:00:00Z' },
      new Error('bus down'),
    );
    recordResultCache('hit');
    recordResultCache('miss');
    publishMetrics();
    const published = new Map<string, string[]>();
    for (const line of lines.filter((candidate) => candidate.startsWith('{"_aws"'))) {
      const emf = JSON.parse(line) as {
        _aws: { CloudWatchMetrics: Array<{ Dimensions: string[][]; Metrics: Array<{ Name: string }> }> };
        service: string;
      };
      expect(emf.service).toBe(SERVICE_NAME);
      for (const directive of emf._aws.CloudWatchMetrics) {
        for (const metric of directive.Metrics) published.set(metric.Name, directive.Dimensions.flat().sort());
      }
    }
    expect([...published.keys()].sort()).toEqual(Object.values(METRIC_NAMES).sort());
    for (const [name, dimensions] of published) {
      expect(dimensions, name).toEqual(
        ['service', ...METRIC_DIMENSIONS[name as keyof typeof METRIC_DIMENSIONS]].sort(),
      );
    }
  });
});

describe('local metrics', () => {
  it('computes statistics per period, and reads EMF as CloudWatch does', () => {
    const metrics = new LocalMetrics();
    const key = { namespace: 'AWS/Lambda', name: 'Duration', dimensions: { FunctionName: 'worker' } };
    for (const [offset, value] of [
      [0, 10],
      [1000, 30],
      [2000, 20],
      [70_000, 5],
    ] as const) {
      metrics.record(key, value, Date.UTC(2026, 0, 1) + offset);
    }
    const periods = [Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1) + 60_000];
    expect([...metrics.series(key, 'Sum', 60_000, periods).values()]).toEqual([60, 5]);
    expect([...metrics.series(key, 'Maximum', 60_000, periods).values()]).toEqual([30, 5]);
    expect([...metrics.series(key, 'Average', 60_000, periods).values()]).toEqual([20, 5]);
    expect([...metrics.series(key, 'p50', 60_000, periods).values()]).toEqual([20, 5]);
    expect([...metrics.series(key, 'SampleCount', 60_000, periods).values()]).toEqual([3, 1]);

    metrics.recordEmf({
      _aws: {
        Timestamp: Date.UTC(2026, 0, 1),
        CloudWatchMetrics: [
          { Namespace: 'DocProc', Dimensions: [['service', 'ErrorCode']], Metrics: [{ Name: 'TasksFailed' }] },
        ],
      },
      service: 'docproc',
      ErrorCode: 'WORKER_CRASHED',
      TasksFailed: 1,
    });
    const failed = {
      namespace: 'DocProc',
      name: 'TasksFailed',
      dimensions: { ErrorCode: 'WORKER_CRASHED', service: 'docproc' },
    };
    expect([...metrics.series(failed, 'Sum', 60_000, periods).values()]).toEqual([1]);
  });
});

describe('alarms on local metrics', () => {
  it('all start OK: no data is not breaching', () => {
    const metrics = new LocalMetrics();
    for (const alarm of specs) expect(evaluateAlarm(alarm, metrics, resolve, NOW).state, alarm.id).toBe('OK');
  });

  it('PoorPages fires when more than a fifth of at least 20 pages read in a quarter hour were poor', () => {
    const metrics = new LocalMetrics();
    const graded = (grade: string, count: number) =>
      metrics.record(
        resolve({ service: 'custom', metric: METRIC_NAMES.pagesGraded, dimensions: { Grade: grade } }),
        count,
        NOW - 60_000,
      );
    graded('poor', 5);
    // Five poor pages of five: too few pages to judge.
    expect(evaluateAlarm(spec('PoorPages'), metrics, resolve, NOW).state).toBe('OK');
    graded('good', 15);
    expect(evaluateAlarm(spec('PoorPages'), metrics, resolve, NOW)).toMatchObject({ state: 'ALARM', value: 25 });
    graded('fair', 10);
    expect(evaluateAlarm(spec('PoorPages'), metrics, resolve, NOW).state).toBe('OK');
  });

  it('fire on a dead-lettered task, and recover after its period', () => {
    const metrics = new LocalMetrics();
    const received = resolve({
      service: 'sqs',
      queue: 'standard',
      deadLetters: true,
      metric: 'NumberOfMessagesReceived',
    });
    metrics.record(received, 1, NOW - 1000);
    expect(evaluateAlarm(spec('StandardDeadLettered'), metrics, resolve, NOW)).toMatchObject({
      state: 'ALARM',
      value: 1,
    });
    expect(evaluateAlarm(spec('LargeDeadLettered'), metrics, resolve, NOW).state).toBe('OK');
    expect(evaluateAlarm(spec('StandardDeadLettered'), metrics, resolve, NOW + 600_000).state).toBe('OK');
  });

  it('compute the worker error rate with the alarm math', () => {
    const metrics = new LocalMetrics();
    const worker = (metric: 'Errors' | 'Invocations') => resolve({ service: 'lambda', function: 'worker', metric });
    for (let index = 0; index < 10; index++) {
      metrics.record(worker('Invocations'), 1, NOW - index * 1000);
      metrics.record(worker('Errors'), index === 0 ? 1 : 0, NOW - index * 1000);
    }
    expect(evaluateAlarm(spec('WorkerErrorRate'), metrics, resolve, NOW)).toMatchObject({ state: 'ALARM', value: 10 });
    for (let index = 0; index < 20; index++) metrics.record(worker('Invocations'), 1, NOW - 20_000);
    expect(evaluateAlarm(spec('WorkerErrorRate'), metrics, resolve, NOW)).toMatchObject({ state: 'OK' });
  });

  it('sum throttles across the functions of a group, each missing one counted as zero', () => {
    const metrics = new LocalMetrics();
    metrics.record(resolve({ service: 'lambda', function: 'janitor', metric: 'Throttles' }), 2, NOW);
    expect(evaluateAlarm(spec('BackgroundThrottles'), metrics, resolve, NOW)).toMatchObject({
      state: 'ALARM',
      value: 2,
    });
    expect(evaluateAlarm(spec('ApiThrottles'), metrics, resolve, NOW).state).toBe('OK');
  });

  it('need every evaluated period to breach: the oldest-message alarm waits five minutes', () => {
    const metrics = new LocalMetrics();
    const age = resolve({ service: 'sqs', queue: 'large', metric: 'ApproximateAgeOfOldestMessage' });
    metrics.record(age, 1000, NOW);
    expect(evaluateAlarm(spec('LargeOldestMessage'), metrics, resolve, NOW).state).toBe('OK');
    for (let minute = 1; minute < 5; minute++) metrics.record(age, 1000, NOW - minute * 60_000);
    expect(evaluateAlarm(spec('LargeOldestMessage'), metrics, resolve, NOW).state).toBe('ALARM');
  });
});
