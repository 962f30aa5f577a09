import { describe, expect, it } from 'vitest';
import { checkAlarmQueries, evaluate, parse, typeOf, type AlarmQuery, type Series } from '../../lib/metric-math.js';

const metric = (id: string): AlarmQuery => ({ id, metric: {}, returnData: false });
const alarm = (expression: string, ...ids: string[]) =>
  checkAlarmQueries([...ids.map(metric), { id: 'result', expression, returnData: true }]);

describe('metric math, as CloudWatch checks it', () => {
  it('takes the expressions the service uses', () => {
    expect(alarm('IF(invocations > 0, 100 * FILL(errors, 0) / invocations, 0)', 'errors', 'invocations')).toEqual([]);
    expect(alarm('SUM(FILL(METRICS(), 0))', 't0', 't1', 't2')).toEqual([]);
    expect(alarm('(a + b) / 2', 'a', 'b')).toEqual([]);
    expect(alarm('MAX([a, b * 2, -a])', 'a', 'b')).toEqual([]);
  });

  it('refuses a scalar in an array: MAX([m, 1]), which failed the first deploy', () => {
    expect(alarm('100 * errors / MAX([invocations, 1])', 'errors', 'invocations')).toEqual([
      'result: an array holds time series only, not a scalar',
    ]);
  });

  it('refuses what is not one time series at the end, unknown ids and functions, and SEARCH in an alarm', () => {
    expect(alarm('MAX(a)', 'a')).toEqual(['result returns a scalar; an alarm needs one time series']);
    expect(alarm('METRICS()', 'a')).toEqual(['result returns a array; an alarm needs one time series']);
    expect(alarm('a + b', 'a')).toEqual(['result: "b" names no metric or expression of this alarm']);
    expect(alarm('PERCENTILE(a)', 'a')).toEqual(['result: PERCENTILE is not a metric math function']);
    expect(alarm("SEARCH('{AWS/Lambda} Errors', 'Sum', 300)")[0]).toContain('SEARCH cannot be used in an alarm');
    expect(alarm('METRICS() + METRICS()', 'a')[0]).toContain('cannot combine two arrays');
    expect(alarm('FILL(a, ZERO)', 'a')[0]).toContain('FILL fills with a number, a series, REPEAT or LINEAR');
    expect(alarm('IF(1, a)', 'a')[0]).toContain('IF tests a time series');
  });

  it('refuses more than ten metrics, two results, bad and repeated ids, and syntax errors', () => {
    const eleven = Array.from({ length: 11 }, (_, index) => `m${index}`);
    expect(alarm('SUM(METRICS())', ...eleven)).toEqual(["11 metrics: an alarm's math may use 10 at most"]);
    expect(
      checkAlarmQueries([
        { id: 'a', metric: {} },
        { id: 'b', expression: 'a * 2' },
      ])[0],
    ).toContain('2 entries return data');
    expect(alarm('A + 1', 'A')).toContain('id "A" must start with a lowercase letter');
    expect(alarm('a', 'a', 'a')).toContain('id "a" is used twice');
    for (const broken of ['a +', 'MAX(a', '[a, b', "'open", 'a $ b', 'a b']) {
      expect(alarm(broken, 'a', 'b').length, broken).toBeGreaterThan(0);
    }
  });

  it('lets expressions name each other, not in a cycle', () => {
    expect(
      checkAlarmQueries([
        metric('a'),
        { id: 'doubled', expression: 'a * 2', returnData: false },
        { id: 'result', expression: 'doubled + 1' },
      ]),
    ).toEqual([]);
    const cycle = checkAlarmQueries([
      metric('a'),
      { id: 'x', expression: 'y + a', returnData: false },
      { id: 'y', expression: 'x + a' },
    ]);
    expect(cycle.some((problem) => problem.includes('refers to itself'))).toBe(true);
  });

  it('types operator precedence and logic as CloudWatch does', () => {
    const ids = { a: 'series' as const, b: 'series' as const };
    expect(typeOf(parse('a > 1 AND NOT b < 2 OR a == b'), { ids, allowSearch: false })).toBe('series');
    expect(typeOf(parse('2 ^ 3 * 4 - 1'), { ids, allowSearch: false })).toBe('scalar');
    expect(typeOf(parse("SEARCH('{ns} m', 'Sum', 300)"), { ids, allowSearch: true })).toBe('array');
  });
});

describe('metric math, evaluated', () => {
  const t = [0, 60_000, 120_000, 180_000];
  const series = (...values: Array<number | undefined>): Series =>
    new Map(values.flatMap((value, index) => (value === undefined ? [] : [[t[index]!, value] as [number, number]])));
  const run = (expression: string, metrics: Record<string, Series>) =>
    evaluate(parse(expression), {
      series: new Map(Object.entries(metrics)),
      metricIds: Object.keys(metrics),
      timestamps: t,
    });

  it('keeps only the timestamps both series have; FILL puts values where they lack', () => {
    const a = series(1, undefined, 3, 4);
    const b = series(10, 20, undefined, 40);
    expect(run('a + b', { a, b })).toEqual(series(11, undefined, undefined, 44));
    expect(run('FILL(a, 0) + FILL(b, 0)', { a, b })).toEqual(series(11, 20, 3, 44));
    expect(run('FILL(a, REPEAT)', { a })).toEqual(series(1, 1, 3, 4));
  });

  it('computes the error rate only where there were invocations', () => {
    const invocations = series(0, 10, 20, undefined);
    const errors = series(undefined, 1, undefined, 5);
    expect(run('IF(invocations > 0, 100 * FILL(errors, 0) / invocations, 0)', { invocations, errors })).toEqual(
      series(0, 10, 0, undefined),
    );
  });

  it('sums across an array point by point, and across time for one series', () => {
    const metrics = {
      t0: series(undefined, 2, undefined, undefined),
      t1: series(),
      t2: series(1, undefined, 3, undefined),
    };
    expect(run('SUM(FILL(METRICS(), 0))', metrics)).toEqual(series(1, 2, 3, 0));
    expect(run('MAX(t2)', metrics)).toBe(3);
    expect(run('MAX([t0, t2])', metrics)).toEqual(series(1, 2, 3, undefined));
  });

  it('drops points that divide by zero', () => {
    expect(run('a / b', { a: series(1, 2), b: series(0, 4) })).toEqual(series(undefined, 0.5));
  });
});
