/**
 * CloudWatch metric math, as CloudWatch reads it: a parser for its grammar,
 * a type checker with its functions' signatures (what CloudWatch refuses at
 * `PutMetricAlarm` or on a dashboard is refused here, at synth time), and an
 * evaluator over time series, so that the embedded stack shows the state of
 * the very alarms the CDK stack creates.
 *
 * Types: a number is a scalar; a metric is a time series; `[a, b]` and
 * `METRICS()` are arrays of time series (never of scalars: `MAX([m, 1])` is
 * refused). Functions over an array work across its series, point by point
 * (`MAX([a, b])` is a series); over one series, across time (`MAX(a)` is a
 * scalar). Arithmetic between two series keeps only the timestamps both
 * have, which is what `FILL` is for.
 */

export type Node =
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'keyword'; name: string }
  | { kind: 'id'; name: string }
  | { kind: 'array'; items: Node[] }
  | { kind: 'call'; name: string; args: Node[] }
  | { kind: 'unary'; op: '-' | 'NOT'; operand: Node }
  | { kind: 'binary'; op: BinaryOp; left: Node; right: Node };

type BinaryOp = '+' | '-' | '*' | '/' | '^' | '>' | '<' | '>=' | '<=' | '==' | '!=' | 'AND' | 'OR';

export class MetricMathError extends Error {
  override name = 'MetricMathError';
}

// --- Lexer and parser ------------------------------------------------------

type Token =
  | { type: 'number'; value: number; at: number }
  | { type: 'string'; value: string; at: number }
  | { type: 'word'; value: string; at: number }
  | { type: 'op'; value: string; at: number }
  | { type: 'end'; at: number };

const OPERATORS = ['>=', '<=', '==', '!=', '+', '-', '*', '/', '^', '>', '<', '(', ')', '[', ']', ','];

const tokenize = (text: string): Token[] => {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    const char = text[at]!;
    if (/\s/.test(char)) {
      at++;
      continue;
    }
    const number = /^(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)/.exec(text.slice(at));
    if (number) {
      tokens.push({ type: 'number', value: Number(number[0]), at });
      at += number[0].length;
      continue;
    }
    if (char === "'" || char === '"') {
      let end = at + 1;
      let value = '';
      while (end < text.length && text[end] !== char) {
        if (text[end] === '\\' && end + 1 < text.length) end++;
        value += text[end];
        end++;
      }
      if (end >= text.length) throw new MetricMathError(`unterminated string at ${at}`);
      tokens.push({ type: 'string', value, at });
      at = end + 1;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(at));
    if (word) {
      tokens.push({ type: 'word', value: word[0], at });
      at += word[0].length;
      continue;
    }
    const op = OPERATORS.find((candidate) => text.startsWith(candidate, at));
    if (!op) throw new MetricMathError(`unexpected "${char}" at ${at}`);
    tokens.push({ type: 'op', value: op, at });
    at += op.length;
  }
  tokens.push({ type: 'end', at });
  return tokens;
};

/** Metric and expression ids: a lowercase letter first (CloudWatch's rule), then letters, digits, `_`. */
export const ID_PATTERN = /^[a-z][a-zA-Z0-9_]*$/;

export const parse = (text: string): Node => {
  const tokens = tokenize(text);
  let position = 0;
  const peek = () => tokens[position]!;
  const next = () => tokens[position++]!;
  const isOp = (value: string) => {
    const token = peek();
    return token.type === 'op' && token.value === value;
  };
  const isWord = (value: string) => {
    const token = peek();
    return token.type === 'word' && token.value === value;
  };
  const expect = (value: string) => {
    const token = next();
    if (token.type !== 'op' || token.value !== value) {
      throw new MetricMathError(`expected "${value}" at ${token.at}`);
    }
  };

  const binary =
    (operand: () => Node, ops: string[], words = false) =>
    (): Node => {
      let left = operand();
      for (;;) {
        const token = peek();
        const op =
          (words ? token.type === 'word' : token.type === 'op') && ops.includes((token as { value: string }).value);
        if (!op) return left;
        next();
        left = { kind: 'binary', op: (token as { value: string }).value as BinaryOp, left, right: operand() };
      }
    };

  const primary = (): Node => {
    const token = next();
    if (token.type === 'number') return { kind: 'number', value: token.value };
    if (token.type === 'string') return { kind: 'string', value: token.value };
    if (token.type === 'op' && token.value === '(') {
      const inner = expression();
      expect(')');
      return inner;
    }
    if (token.type === 'op' && token.value === '[') {
      const items: Node[] = [];
      if (!isOp(']')) {
        do items.push(expression());
        while (isOp(',') && next());
      }
      expect(']');
      return { kind: 'array', items };
    }
    if (token.type === 'word') {
      if (isOp('(')) {
        next();
        const args: Node[] = [];
        if (!isOp(')')) {
          do args.push(expression());
          while (isOp(',') && next());
        }
        expect(')');
        return { kind: 'call', name: token.value, args };
      }
      if (ID_PATTERN.test(token.value)) return { kind: 'id', name: token.value };
      return { kind: 'keyword', name: token.value };
    }
    throw new MetricMathError(
      `unexpected ${token.type === 'end' ? 'end' : `"${(token as { value: string }).value}"`} at ${token.at}`,
    );
  };
  const unary = (): Node => {
    if (isOp('-')) {
      next();
      return { kind: 'unary', op: '-', operand: unary() };
    }
    return primary();
  };
  const power = binary(unary, ['^']);
  const product = binary(power, ['*', '/']);
  const sum = binary(product, ['+', '-']);
  const comparison = binary(sum, ['>=', '<=', '==', '!=', '>', '<']);
  const negation = (): Node => {
    if (isWord('NOT')) {
      next();
      return { kind: 'unary', op: 'NOT', operand: negation() };
    }
    return comparison();
  };
  const conjunction = binary(negation, ['AND'], true);
  const expression = binary(conjunction, ['OR'], true);

  const tree = expression();
  const rest = peek();
  if (rest.type !== 'end') throw new MetricMathError(`unexpected "${(rest as { value: string }).value}" at ${rest.at}`);
  return tree;
};

// --- Types -----------------------------------------------------------------

export type MathType = 'scalar' | 'series' | 'array' | 'string' | 'keyword';

export interface TypeContext {
  /** The type of each id the expression may name (metrics: series; other expressions: their type). */
  ids: Record<string, MathType>;
  /** Alarms refuse SEARCH (and other queries); dashboards take them. */
  allowSearch: boolean;
}

const ACROSS = ['AVG', 'MAX', 'MIN', 'SUM', 'STDDEV'];
const POINTWISE = [
  'ABS',
  'CEIL',
  'FLOOR',
  'LOG',
  'LOG10',
  'SQRT',
  'RATE',
  'DIFF',
  'DIFF_TIME',
  'RUNNING_SUM',
  'PERIOD',
];

const fail = (message: string): never => {
  throw new MetricMathError(message);
};

/** The type of an expression, or the error CloudWatch would answer. */
export const typeOf = (node: Node, context: TypeContext): MathType => {
  switch (node.kind) {
    case 'number':
      return 'scalar';
    case 'string':
      return 'string';
    case 'keyword':
      return 'keyword';
    case 'id': {
      const type = context.ids[node.name];
      return type ?? fail(`"${node.name}" names no metric or expression of this alarm`);
    }
    case 'array': {
      for (const item of node.items) {
        const type = typeOf(item, context);
        if (type !== 'series') fail(`an array holds time series only, not a ${type}`);
      }
      return 'array';
    }
    case 'unary': {
      const type = typeOf(node.operand, context);
      if (type === 'string' || type === 'keyword') fail(`"${node.op}" takes a number, a series or an array`);
      return type;
    }
    case 'binary': {
      const left = typeOf(node.left, context);
      const right = typeOf(node.right, context);
      for (const type of [left, right]) {
        if (type === 'string' || type === 'keyword')
          fail(`"${node.op}" takes numbers, series or arrays, not a ${type}`);
      }
      if (left === 'array' && right === 'array') fail(`"${node.op}" cannot combine two arrays`);
      if (left === 'array' || right === 'array') return 'array';
      if (left === 'series' || right === 'series') return 'series';
      return 'scalar';
    }
    case 'call':
      return callType(node, context);
  }
};

const callType = (node: Extract<Node, { kind: 'call' }>, context: TypeContext): MathType => {
  const args = node.args.map((arg) => typeOf(arg, context));
  const arity = (min: number, max = min) => {
    if (args.length < min || args.length > max) {
      fail(`${node.name} takes ${min === max ? min : `${min} to ${max}`} arguments, not ${args.length}`);
    }
  };
  const seriesOrArray = (index: number) => {
    const type = args[index];
    if (type !== 'series' && type !== 'array') fail(`${node.name} takes a time series or an array, not a ${type}`);
    return type as 'series' | 'array';
  };
  if (ACROSS.includes(node.name)) {
    arity(1);
    return seriesOrArray(0) === 'array' ? 'series' : 'scalar';
  }
  if (POINTWISE.includes(node.name)) {
    arity(1);
    return seriesOrArray(0);
  }
  switch (node.name) {
    case 'FILL': {
      arity(2);
      const type = seriesOrArray(0);
      const fill = node.args[1]!;
      const ok =
        args[1] === 'scalar' ||
        args[1] === 'series' ||
        (fill.kind === 'keyword' && (fill.name === 'REPEAT' || fill.name === 'LINEAR'));
      if (!ok) fail('FILL fills with a number, a series, REPEAT or LINEAR');
      return type;
    }
    case 'IF': {
      arity(2, 3);
      if (args[0] !== 'series') fail(`IF tests a time series, not a ${args[0]}`);
      for (const type of args.slice(1)) {
        if (type !== 'series' && type !== 'scalar') fail(`IF returns numbers or series, not a ${type}`);
      }
      return 'series';
    }
    case 'METRICS': {
      arity(0, 1);
      if (args.length && args[0] !== 'string') fail('METRICS takes a string to filter ids by');
      return 'array';
    }
    case 'REMOVE_EMPTY': {
      arity(1);
      if (args[0] !== 'array') fail('REMOVE_EMPTY takes an array');
      return 'array';
    }
    case 'TIME_SERIES': {
      arity(1);
      if (args[0] !== 'scalar') fail('TIME_SERIES takes a number');
      return 'series';
    }
    case 'SEARCH': {
      if (!context.allowSearch) fail('SEARCH cannot be used in an alarm');
      arity(3);
      if (args[0] !== 'string' || args[1] !== 'string' || args[2] !== 'scalar') {
        fail("SEARCH takes ('{namespace,dimensions} query', 'statistic', period)");
      }
      return 'array';
    }
    default:
      return fail(`${node.name} is not a metric math function`);
  }
};

/** Every id an expression names. */
export const idsOf = (node: Node): string[] => {
  switch (node.kind) {
    case 'id':
      return [node.name];
    case 'array':
      return node.items.flatMap(idsOf);
    case 'call':
      return node.args.flatMap(idsOf);
    case 'unary':
      return idsOf(node.operand);
    case 'binary':
      return [...idsOf(node.left), ...idsOf(node.right)];
    default:
      return [];
  }
};

// --- Alarms as CloudWatch takes them ------------------------------------------

/** One entry of an alarm's `Metrics`: a metric (with its statistic) or an expression over others. */
export interface AlarmQuery {
  id: string;
  expression?: string;
  /** Present for metrics. */
  metric?: unknown;
  returnData?: boolean;
}

/** CloudWatch's limit: an alarm's math may use at most ten metrics. */
export const MAX_ALARM_METRICS = 10;

/**
 * What `PutMetricAlarm` checks of an alarm's `Metrics`: ids well formed and
 * unique, at most ten metrics, exactly one entry returning data, every
 * expression parsing and typing, with the returned one a single time series.
 * Returns the problems (none: CloudWatch would take it).
 */
export const checkAlarmQueries = (queries: AlarmQuery[]): string[] => {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const query of queries) {
    if (!ID_PATTERN.test(query.id)) problems.push(`id "${query.id}" must start with a lowercase letter`);
    if (ids.has(query.id)) problems.push(`id "${query.id}" is used twice`);
    ids.add(query.id);
  }
  const metrics = queries.filter((query) => query.expression === undefined);
  if (metrics.length > MAX_ALARM_METRICS) {
    problems.push(`${metrics.length} metrics: an alarm's math may use ${MAX_ALARM_METRICS} at most`);
  }
  const returned = queries.filter((query) => query.returnData ?? true);
  if (returned.length !== 1) problems.push(`${returned.length} entries return data; an alarm needs exactly one`);
  const types: Record<string, MathType> = Object.fromEntries(metrics.map((query) => [query.id, 'series' as const]));
  // Expressions may name each other (never in a cycle): type them in dependency order.
  const pending = queries.filter((query) => query.expression !== undefined);
  const trees = new Map<string, Node>();
  for (const query of pending) {
    try {
      trees.set(query.id, parse(query.expression!));
    } catch (error) {
      problems.push(`${query.id}: ${(error as Error).message}`);
    }
  }
  const failed = new Set<string>();
  let progress = true;
  while (progress) {
    progress = false;
    for (const [id, tree] of trees) {
      if (types[id] || !idsOf(tree).every((name) => types[name] || !trees.has(name))) continue;
      try {
        types[id] = typeOf(tree, { ids: types, allowSearch: false });
      } catch (error) {
        problems.push(`${id}: ${(error as Error).message}`);
        failed.add(id);
        types[id] = 'series';
      }
      progress = true;
    }
  }
  for (const id of trees.keys()) if (!types[id]) problems.push(`${id}: refers to itself through other expressions`);
  for (const query of returned) {
    const type = types[query.id];
    if (type && type !== 'series' && !failed.has(query.id))
      problems.push(`${query.id} returns a ${type}; an alarm needs one time series`);
  }
  if (metrics.some((query) => query.metric === undefined)) problems.push('a metric entry without a metric');
  return problems;
};

// --- Evaluation ----------------------------------------------------------------

/** A time series: value by timestamp (ms, the start of each period). */
export type Series = Map<number, number>;
type Value = number | Series | Series[] | string;

export interface EvaluationContext {
  /** Each metric's series (and each expression's, once evaluated), by id. */
  series: Map<string, Series>;
  /** The ids of the metrics (not expressions), in the alarm's order: what METRICS() returns. */
  metricIds: string[];
  /** The timestamps of the window, oldest first: where FILL puts values. */
  timestamps: number[];
}

const isSeries = (value: Value): value is Series => value instanceof Map;

const pointwise = (value: Series, apply: (x: number) => number): Series => {
  const out: Series = new Map();
  for (const [t, x] of value) {
    const y = apply(x);
    if (Number.isFinite(y)) out.set(t, y);
  }
  return out;
};

const combine = (left: Value, right: Value, apply: (a: number, b: number) => number): Value => {
  if (Array.isArray(left)) return left.map((item) => combine(item, right, apply) as Series);
  if (Array.isArray(right)) return right.map((item) => combine(left, item, apply) as Series);
  if (typeof left === 'number' && typeof right === 'number') return apply(left, right);
  if (typeof left === 'number') return pointwise(right as Series, (b) => apply(left, b));
  if (typeof right === 'number') return pointwise(left as Series, (a) => apply(a, right));
  const out: Series = new Map();
  for (const [t, a] of left as Series) {
    const b = (right as Series).get(t);
    if (b === undefined) continue;
    const y = apply(a, b);
    if (Number.isFinite(y)) out.set(t, y);
  }
  return out;
};

const OPS: Record<BinaryOp, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '^': (a, b) => a ** b,
  '>': (a, b) => Number(a > b),
  '<': (a, b) => Number(a < b),
  '>=': (a, b) => Number(a >= b),
  '<=': (a, b) => Number(a <= b),
  '==': (a, b) => Number(a === b),
  '!=': (a, b) => Number(a !== b),
  AND: (a, b) => Number(a !== 0 && b !== 0),
  OR: (a, b) => Number(a !== 0 || b !== 0),
};

const AGGREGATE: Record<string, (values: number[]) => number> = {
  SUM: (values) => values.reduce((sum, x) => sum + x, 0),
  MAX: (values) => Math.max(...values),
  MIN: (values) => Math.min(...values),
  AVG: (values) => values.reduce((sum, x) => sum + x, 0) / values.length,
  STDDEV: (values) => {
    const mean = values.reduce((sum, x) => sum + x, 0) / values.length;
    return Math.sqrt(values.reduce((sum, x) => sum + (x - mean) ** 2, 0) / values.length);
  },
};

const UNARY: Record<string, (x: number) => number> = {
  ABS: Math.abs,
  CEIL: Math.ceil,
  FLOOR: Math.floor,
  LOG: Math.log,
  LOG10: Math.log10,
  SQRT: Math.sqrt,
};

/** Evaluates a typed expression (see `typeOf`) over the given series. */
export const evaluate = (node: Node, context: EvaluationContext): Value => {
  switch (node.kind) {
    case 'number':
      return node.value;
    case 'string':
      return node.value;
    case 'keyword':
      return node.name;
    case 'id':
      return context.series.get(node.name) ?? new Map();
    case 'array':
      return node.items.map((item) => evaluate(item, context) as Series);
    case 'unary': {
      const operand = evaluate(node.operand, context);
      const apply = node.op === '-' ? (x: number) => -x : (x: number) => Number(x === 0);
      return combine(operand, 0, (x) => apply(x));
    }
    case 'binary':
      return combine(evaluate(node.left, context), evaluate(node.right, context), OPS[node.op]);
    case 'call':
      return evaluateCall(node, context);
  }
};

const evaluateCall = (node: Extract<Node, { kind: 'call' }>, context: EvaluationContext): Value => {
  const args = node.args.map((arg) => evaluate(arg, context));
  const first = args[0]!;
  const aggregate = AGGREGATE[node.name];
  if (aggregate) {
    if (isSeries(first)) {
      const values = [...first.values()];
      return values.length ? aggregate(values) : Number.NaN;
    }
    const out: Series = new Map();
    for (const t of context.timestamps) {
      const values = (first as Series[]).map((series) => series.get(t)).filter((x): x is number => x !== undefined);
      if (values.length) out.set(t, aggregate(values));
    }
    return out;
  }
  const unary = UNARY[node.name];
  if (unary) return combine(first, 0, (x) => unary(x));
  switch (node.name) {
    case 'FILL': {
      const fill = (series: Series): Series => {
        const out: Series = new Map();
        let last: number | undefined;
        for (const t of context.timestamps) {
          const own = series.get(t);
          const with_ =
            own ??
            (typeof args[1] === 'number'
              ? args[1]
              : isSeries(args[1]!)
                ? args[1].get(t)
                : // REPEAT (and LINEAR, approximated by it): the last value seen.
                  last);
          if (with_ !== undefined) out.set(t, with_);
          if (own !== undefined) last = own;
        }
        return out;
      };
      return isSeries(first) ? fill(first) : (first as Series[]).map(fill);
    }
    case 'IF': {
      const out: Series = new Map();
      const pick = (value: Value | undefined, t: number) =>
        value === undefined ? undefined : typeof value === 'number' ? value : (value as Series).get(t);
      for (const [t, condition] of first as Series) {
        const value = pick(condition !== 0 ? args[1] : args[2], t);
        if (value !== undefined) out.set(t, value);
      }
      return out;
    }
    case 'METRICS': {
      const filter = typeof first === 'string' ? first : '';
      return context.metricIds
        .filter((id) => id.includes(filter))
        .map((id) => context.series.get(id) ?? new Map<number, number>());
    }
    case 'REMOVE_EMPTY':
      return (first as Series[]).filter((series) => series.size > 0);
    case 'TIME_SERIES':
      return new Map(context.timestamps.map((t) => [t, first as number]));
    case 'DIFF':
    case 'RATE':
    case 'DIFF_TIME':
    case 'RUNNING_SUM':
    case 'PERIOD':
    case 'SEARCH':
      throw new MetricMathError(`${node.name} is not evaluated by the embedded stack`);
    default:
      throw new MetricMathError(`${node.name} is not a metric math function`);
  }
};
