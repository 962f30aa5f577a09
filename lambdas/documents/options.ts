import * as z from 'zod';
import { AppError } from '../errors.js';
import { OCR_MODES, formatOcrLanguages, parseOcrLanguages } from './ocr/languages.js';
import { QUALITY_MODES, type QualityMode } from './quality/grade.js';
import { FIGURE_MODES, type FigureMode } from './figures/figures.js';

export const OPTION_DEFAULTS = { split: false, chunk_size: 1000, chunk_overlap: 200 } as const;
export const MAX_CHUNK_SIZE = 100_000;
/** A code point is at most 4 UTF-8 bytes, and a byte-level BPE never needs more than a token per byte. */
export const MIN_TOKEN_CHUNK_SIZE = 4;

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

export const OUTPUT_FORMATS = ['text', 'markdown'] as const;
export const CHUNK_STRATEGIES = ['recursive', 'markdown', 'by_heading', 'by_page'] as const;
export const CHUNK_SIZE_UNITS = ['chars', 'tokens'] as const;
export const TOKENIZERS = ['cl100k_base', 'o200k_base'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export type ChunkStrategy = (typeof CHUNK_STRATEGIES)[number];
export type ChunkSizeUnit = (typeof CHUNK_SIZE_UNITS)[number];
export type TokenizerName = (typeof TOKENIZERS)[number];

/** One of a list, from JSON or a form field; the message names every allowed value. */
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((value) => (values as readonly string[]).includes(value), {
      message: `expected one of: ${values.join(', ')}`,
    })
    .transform((value) => value as T[number]);

/** The highest page number a selection may name; no PDF the service reads has more (`maxPages`). */
export const MAX_PAGE_NUMBER = 100_000;
const MAX_PAGE_SELECTION_LENGTH = 1000;

/** Inclusive, 1-based page ranges, sorted and merged. */
export type PageSelection = readonly { first: number; last: number }[];

/**
 * `"1-3,7"`, `"7, 1-3"`, `"2-2"`: comma-separated pages or ranges, 1-based.
 * Returns the ranges, sorted and merged, or for anything else the reason.
 */
export const parsePageSelection = (text: string): PageSelection | string => {
  const ranges: { first: number; last: number }[] = [];
  for (const part of text.split(',')) {
    const match = /^\s*(\d{1,6})\s*(?:-\s*(\d{1,6})\s*)?$/.exec(part);
    if (!match) return `"${part.trim()}" is not a page or a range like 1-3`;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (first < 1 || last > MAX_PAGE_NUMBER) return `pages are numbered from 1 to ${MAX_PAGE_NUMBER}`;
    if (last < first) return `the range ${first}-${last} ends before it starts`;
    ranges.push({ first, last });
  }
  ranges.sort((a, b) => a.first - b.first);
  const merged: { first: number; last: number }[] = [];
  for (const range of ranges) {
    const previous = merged[merged.length - 1];
    if (previous && range.first <= previous.last + 1) previous.last = Math.max(previous.last, range.last);
    else merged.push({ ...range });
  }
  return merged;
};

/** The canonical text of a selection: what the task keeps and what the fingerprint sees. */
export const formatPageSelection = (selection: PageSelection): string =>
  selection.map(({ first, last }) => (first === last ? `${first}` : `${first}-${last}`)).join(',');

const pageSelection = z
  .string()
  .max(MAX_PAGE_SELECTION_LENGTH, `at most ${MAX_PAGE_SELECTION_LENGTH} characters`)
  .transform((text, ctx) => {
    const parsed = parsePageSelection(text);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: `expected pages like "1-3,7" (1-based): ${parsed}` });
      return z.NEVER;
    }
    return formatPageSelection(parsed);
  });

/** `"eng+chi_sim"` (or with commas, or a JSON list): stored canonical, `+`-joined. */
const ocrLanguages = z
  .union([z.string().max(200, 'at most 200 characters'), z.array(z.string().max(20)).max(20)])
  .transform((value, ctx) => {
    const parsed = parseOcrLanguages(value);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return formatOcrLanguages(parsed);
  });

export const optionsShape = {
  split: formBoolean.optional(),
  chunk_size: formInteger(1, MAX_CHUNK_SIZE).optional(),
  chunk_overlap: formInteger(0, MAX_CHUNK_SIZE - 1).optional(),
  output_format: oneOf(OUTPUT_FORMATS).optional(),
  chunk_strategy: oneOf(CHUNK_STRATEGIES).optional(),
  chunk_size_unit: oneOf(CHUNK_SIZE_UNITS).optional(),
  tokenizer: oneOf(TOKENIZERS).optional(),
  pages: pageSelection.optional(),
  ocr: oneOf(OCR_MODES).optional(),
  ocr_languages: ocrLanguages.optional(),
  quality: oneOf(QUALITY_MODES).optional(),
  include_boxes: formBoolean.optional(),
  figures: oneOf(FIGURE_MODES).optional(),
  no_cache: formBoolean.optional(),
  destination: z
    .string()
    .trim()
    .regex(/^kb:[a-z0-9][a-z0-9_-]{0,62}$/, 'expected kb:<name>, a knowledge-base destination the operator configured')
    .optional(),
};

/** The options that shape the output's structure; each is absent unless the caller gave it. */
export interface StructureOptions {
  output_format?: OutputFormat;
  chunk_strategy?: ChunkStrategy;
  chunk_size_unit?: ChunkSizeUnit;
  tokenizer?: TokenizerName;
  /** Canonical page selection (`formatPageSelection`). */
  pages?: string;
  /** Which pages are recognised (absent: `auto`): see ocr/recognise.ts. */
  ocr?: (typeof OCR_MODES)[number];
  /** Canonical language list (`formatOcrLanguages`; absent: `eng`). */
  ocr_languages?: string;
  /** How far a poorly read page climbs the reading ladder (absent: `auto`): see quality/grade.ts. */
  quality?: QualityMode;
  /** Where each page document and chunk stands on its page (`metadata.boxes`); kept only when true. */
  include_boxes?: true;
  /** Pictures kept, placed and captioned (figures/figures.ts); kept only when not `off`. */
  figures?: Exclude<FigureMode, 'off'>;
}

/**
 * What a task was asked for. The structure options stay absent when not
 * given, so a request with only the first version's options is stored,
 * fingerprinted and answered exactly as before.
 */
export interface ProcessingOptions extends StructureOptions {
  split: boolean;
  chunk_size: number;
  chunk_overlap: number;
  /**
   * Skip the result cache for this task (docs/api.md, "Result cache"). Kept only
   * when true, so that `false` and absent are one request; it says how to
   * run the task, not what the result is, so no cache key includes it.
   */
  no_cache?: true;
  /**
   * Where a succeeded task's document is also written (`kb:<name>`: a
   * knowledge-base destination, lambdas/knowledge-base/). Like `no_cache`, it
   * says what to do with the result, not what it is: no cache key includes it.
   */
  destination?: string;
}

export const STRUCTURE_OPTION_NAMES = [
  'output_format',
  'chunk_strategy',
  'chunk_size_unit',
  'tokenizer',
  'pages',
] as const satisfies readonly (keyof StructureOptions)[];

/**
 * The options that say how a document is read (OCR), not how the result is
 * shaped: stored and part of the cache key when given, like the structure
 * options, but they leave the chunks' metadata as it was.
 */
export const READING_OPTION_NAMES = [
  'ocr',
  'ocr_languages',
  'quality',
  'include_boxes',
  'figures',
] as const satisfies readonly (keyof StructureOptions)[];

/** Every option a request may carry, for form-field checks. */
export const OPTION_NAMES = [
  'split',
  'chunk_size',
  'chunk_overlap',
  ...STRUCTURE_OPTION_NAMES,
  ...READING_OPTION_NAMES,
  'no_cache',
  'destination',
] as const;

/** True when any structure option was given: chunks then carry the full metadata (see docs/results.md). */
export const usesStructure = (options: ProcessingOptions): boolean =>
  STRUCTURE_OPTION_NAMES.some((name) => options[name] !== undefined);

type RawOptions = {
  split?: boolean;
  chunk_size?: number;
  chunk_overlap?: number;
  no_cache?: boolean;
  include_boxes?: boolean;
  figures?: FigureMode;
  destination?: string;
} & Omit<StructureOptions, 'include_boxes' | 'figures'>;

/** Apply defaults and the cross-field rules; issues are reported against the field that must change. */
export const withOptionDefaults = (raw: RawOptions, ctx: z.RefinementCtx): ProcessingOptions => {
  const structure: StructureOptions = {};
  for (const name of [...STRUCTURE_OPTION_NAMES, ...READING_OPTION_NAMES]) {
    // A flag is kept only when set: `false` and absent are one request (one cache key).
    if (name === 'include_boxes') {
      if (raw.include_boxes) structure.include_boxes = true;
    } else if (name === 'figures') {
      if (raw.figures && raw.figures !== 'off') structure.figures = raw.figures;
    } else if (raw[name] !== undefined) Object.assign(structure, { [name]: raw[name] });
  }
  const options: ProcessingOptions = {
    split: raw.split ?? OPTION_DEFAULTS.split,
    chunk_size: raw.chunk_size ?? OPTION_DEFAULTS.chunk_size,
    chunk_overlap: raw.chunk_overlap ?? OPTION_DEFAULTS.chunk_overlap,
    ...structure,
    ...(raw.no_cache ? { no_cache: true as const } : {}),
    ...(raw.destination ? { destination: raw.destination } : {}),
  };
  if (options.chunk_size_unit === 'tokens' && options.chunk_size < MIN_TOKEN_CHUNK_SIZE) {
    ctx.addIssue({
      code: 'custom',
      path: ['chunk_size'],
      message: `with chunk_size_unit "tokens", chunk_size must be at least ${MIN_TOKEN_CHUNK_SIZE} (one character may take ${MIN_TOKEN_CHUNK_SIZE} tokens)`,
    });
    return z.NEVER;
  }
  if (raw.tokenizer !== undefined && raw.chunk_size_unit !== 'tokens') {
    ctx.addIssue({
      code: 'custom',
      path: ['tokenizer'],
      message: 'tokenizer applies only with chunk_size_unit "tokens"',
    });
    return z.NEVER;
  }
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
