import * as z from 'zod';
import { AppError } from './errors.js';

export const OPTION_DEFAULTS = { split: false, chunk_size: 1000, chunk_overlap: 200 } as const;
export const MAX_CHUNK_SIZE = 100_000;

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

/**
 * JSON booleans, plus the words form bodies carry: Python's `requests` sends
 * `True`, HTML checkboxes send `on`.
 */
export const formBoolean = z.union([
  z.boolean(),
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((word) => TRUE_WORDS.has(word) || FALSE_WORDS.has(word), {
      message: 'expected a boolean: true/false, 1/0, yes/no or on/off',
    })
    .transform((word) => TRUE_WORDS.has(word)),
]);

/** Integers from JSON numbers or from form strings ("500"), never "5.5" or "". */
const formInteger = (min: number, max: number) =>
  z
    .union([
      z.number(),
      z
        .string()
        .trim()
        .regex(/^[+-]?\d+$/, 'expected an integer')
        .transform(Number),
    ])
    .pipe(z.number().int('expected an integer').min(min).max(max));

export const optionsShape = {
  split: formBoolean.optional(),
  chunk_size: formInteger(1, MAX_CHUNK_SIZE).optional(),
  chunk_overlap: formInteger(0, MAX_CHUNK_SIZE - 1).optional(),
};

export interface ProcessingOptions {
  split: boolean;
  chunk_size: number;
  chunk_overlap: number;
}

type RawOptions = { split?: boolean; chunk_size?: number; chunk_overlap?: number };

/** Apply defaults and the cross-field rule; issues are reported against `chunk_overlap`. */
export const withOptionDefaults = (raw: RawOptions, ctx: z.RefinementCtx): ProcessingOptions => {
  const options: ProcessingOptions = {
    split: raw.split ?? OPTION_DEFAULTS.split,
    chunk_size: raw.chunk_size ?? OPTION_DEFAULTS.chunk_size,
    chunk_overlap: raw.chunk_overlap ?? OPTION_DEFAULTS.chunk_overlap,
  };
  if (options.chunk_overlap >= options.chunk_size) {
    const which = raw.chunk_overlap === undefined ? ` (the default)` : '';
    ctx.addIssue({
      code: 'custom',
      path: ['chunk_overlap'],
      message: `chunk_overlap${which} is ${options.chunk_overlap} but must be less than chunk_size (${options.chunk_size})`,
    });
    return z.NEVER;
  }
  return options;
};

export const optionsSchema = z.object(optionsShape).transform(withOptionDefaults);

export interface ValidationIssue {
  field: string;
  message: string;
}

/** Turn zod issues into a VALIDATION_ERROR whose message names each field. */
export const validationErrorFrom = (error: z.ZodError, prefix = 'Invalid request'): AppError => {
  const issues: ValidationIssue[] = error.issues.map((issue) => ({
    field: issue.path.map(String).join('.') || '(body)',
    message: issue.message,
  }));
  const summary = issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ');
  return new AppError('VALIDATION_ERROR', `${prefix}: ${summary}`, { details: issues });
};

/** Parse with a schema, throwing a VALIDATION_ERROR that names the fields. */
export const parseOrThrow = <S extends z.ZodType>(schema: S, input: unknown, prefix?: string): z.output<S> => {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw validationErrorFrom(parsed.error, prefix);
  return parsed.data;
};

export const parseOptions = (input: unknown): ProcessingOptions =>
  parseOrThrow(optionsSchema, input, 'Invalid options');
