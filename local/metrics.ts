import type { AlarmSpec, MetricSource, Statistic } from '../lib/alarms.js';
import { evaluate, parse, type Series } from '../lib/metric-math.js';

/**
 * CloudWatch for the embedded stack: the metrics AWS would record (Lambda
 * invocations, errors and durations from the local runtime; SQS receives,
 * depths and ages; API Gateway counts and latencies from the local gateway),
 * the custom metrics the functions publish as EMF (captured from their
 * output, as CloudWatch Logs extracts them), and the service's alarms
 * evaluated over them with the same metric math CloudWatch runs.
 */
export interface MetricKey {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
}

const RETENTION_MS = 3 * 3600_000;

const keyOf = ({ namespace, name, dimensions }: MetricKey) =>
  JSON.stringify([namespace, name, Object.entries(dimensions).sort(([a], [b]) => a.localeCompare(b))]);

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};

const statistic = (stat: Statistic, values: number[]): number => {
  switch (stat) {
    case 'Sum':
      return values.reduce((sum, value) => sum + value, 0);
    case 'Maximum':
      return Math.max(...values);
    case 'Minimum':
      return Math.min(...values);
    case 'Average':
      return values.reduce((sum, value) => sum + value, 0) / values.length;
    case 'SampleCount':
      return values.length;
    default:
      return percentile(values, Number(stat.slice(1)));
  }
};

export class LocalMetrics {
  private readonly samples = new Map<string, Array<[at: number, value: number]>>();

  record(key: MetricKey, value: number, at = Date.now()): void {
    if (!Number.isFinite(value)) return;
    const id = keyOf(key);
    let samples = this.samples.get(id);
    if (!samples) this.samples.set(id, (samples = []));
    samples.push([at, value]);
    // Old samples go, a few at a time: the window alarms look at is minutes.
    while (samples.length && samples[0]![0] < at - RETENTION_MS) samples.shift();
  }

  /**
   * Records the metrics of one CloudWatch Embedded Metric Format document
   * (what Powertools prints): each metric of each directive, for each of its
   * dimension sets.
   */
  recordEmf(document: unknown): void {
    const emf = document as {
      _aws?: {
        Timestamp?: number;
        CloudWatchMetrics?: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }>;
      };
    } & Record<string, unknown>;
    const at = emf._aws?.Timestamp ?? Date.now();
    for (const directive of emf._aws?.CloudWatchMetrics ?? []) {
      for (const names of directive.Dimensions.length ? directive.Dimensions : [[]]) {
        const dimensions = Object.fromEntries(names.map((name) => [name, String(emf[name])]));
        for (const { Name } of directive.Metrics) {
          const raw = emf[Name];
          for (const value of Array.isArray(raw) ? raw : [raw]) {
            this.record({ namespace: directive.Namespace, name: Name, dimensions }, Number(value), at);
          }
        }
      }
    }
  }

  /** The statistic of each period that has samples, for the periods starting at `timestamps`. */
  series(key: MetricKey, stat: Statistic, periodMs: number, timestamps: number[]): Series {
    const samples = this.samples.get(keyOf(key)) ?? [];
    const out: Series = new Map();
    for (const start of timestamps) {
      const values = samples.filter(([at]) => at >= start && at < start + periodMs).map(([, value]) => value);
      if (values.length) out.set(start, statistic(stat, values));
    }
    return out;
  }
}

export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmState {
  id: string;
  description: string;
  state: AlarmStateValue;
  /** The latest value evaluated, if any. */
  value?: number;
  threshold: number;
  comparison: AlarmSpec['comparison'];
  periodSeconds: number;
  evaluationPeriods: number;
}

const breaches = (value: number, spec: AlarmSpec) => {
  switch (spec.comparison) {
    case 'GreaterThanOrEqualToThreshold':
      return value >= spec.threshold;
    case 'GreaterThanThreshold':
      return value > spec.threshold;
    case 'LessThanThreshold':
      return value < spec.threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= spec.threshold;
  }
};

/**
 * An alarm's state as CloudWatch would set it from these metrics, over its
 * last `evaluationPeriods` periods, the current (partial) one included so
 * that the page reacts at once: ALARM when every one breaches, missing
 * periods counted as `treatMissingData` says.
 */
export const evaluateAlarm = (
  spec: AlarmSpec,
  metrics: LocalMetrics,
  resolve: (source: MetricSource) => MetricKey,
  now = Date.now(),
): AlarmState => {
  const periodSeconds = spec.metrics[0]?.periodSeconds ?? 60;
  const periodMs = periodSeconds * 1000;
  const latest = Math.floor(now / periodMs) * periodMs;
  const timestamps = Array.from(
    { length: spec.evaluationPeriods },
    (_, index) => latest - (spec.evaluationPeriods - 1 - index) * periodMs,
  );
  const series = new Map(
    spec.metrics.map((query) => [query.id, metrics.series(resolve(query.source), query.stat, periodMs, timestamps)]),
  );
  const result = spec.expression
    ? (evaluate(parse(spec.expression), {
        series,
        metricIds: spec.metrics.map((query) => query.id),
        timestamps,
      }) as Series)
    : (series.get(spec.metrics[0]?.id ?? '') ?? new Map<number, number>());
  let breaching = 0;
  let present = 0;
  for (const t of timestamps) {
    const value = result.get(t);
    if (value === undefined) {
      if (spec.treatMissingData === 'breaching') breaching++;
      continue;
    }
    present++;
    if (breaches(value, spec)) breaching++;
  }
  const value = [...timestamps]
    .reverse()
    .map((t) => result.get(t))
    .find((candidate) => candidate !== undefined);
  const state: AlarmStateValue =
    breaching === spec.evaluationPeriods
      ? 'ALARM'
      : present === 0 && spec.treatMissingData === 'missing'
        ? 'INSUFFICIENT_DATA'
        : 'OK';
  return {
    id: spec.id,
    description: spec.description,
    state,
    ...(value === undefined ? {} : { value }),
    threshold: spec.threshold,
    comparison: spec.comparison,
    periodSeconds,
    evaluationPeriods: spec.evaluationPeriods,
  };
};
