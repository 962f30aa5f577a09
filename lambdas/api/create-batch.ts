import { checkFigureMode } from '../figure-descriptions/policy.js';
import * as z from 'zod';
import { BATCH } from '../../shared/definitions.js';
import type { ListedSource } from '../core/batch.js';
import { createBatch } from '../core/batches.js';
import { AppError, isAppError } from '../errors.js';
import { callbackOf, callbackShape } from '../core/events.js';
import { checkDestination } from '../knowledge-base/destinations.js';
import { optionsShape, parseOrThrow, withOptionDefaults } from '../documents/options.js';
import { batchApiDeps, type BatchApiDeps } from './batch-deps.js';
import { resolvePrefix, resolveSource } from './document-request.js';
import { callerOf, httpHandler, idempotencyKeyOf, json, readFields } from './http.js';

const MAX_SOURCE_LENGTH = 8192;
/** Sources checked at once (an s3:// source is a HEAD request). */
const CHECK_CONCURRENCY = 16;

const source = z.string().trim().min(1, 'required').max(MAX_SOURCE_LENGTH, `at most ${MAX_SOURCE_LENGTH} characters`);

const batchSchema = z
  .strictObject({
    sources: z
      .array(source)
      .min(1, 'name at least one source')
      .max(BATCH.maxSources, `at most ${BATCH.maxSources} sources; for more, put them under an S3 prefix`)
      .optional(),
    source: source.optional(),
    ...optionsShape,
    ...callbackShape,
  })
  .superRefine((body, ctx) => {
    if ((body.sources === undefined) === (body.source === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['sources'],
        message: 'give either "sources" (a list of URLs and s3:// URIs) or "source" (an s3:// prefix to list)',
      });
    }
  })
  .transform(({ sources, source: prefix, callback_url, callback_events, ...options }, ctx) => ({
    sources,
    prefix,
    options: withOptionDefaults(options, ctx),
    callback: { callback_url, callback_events },
  }));

/** Every source checked as `process` checks one; all problems named at once, by position. */
const checkSources = async (deps: BatchApiDeps, raw: readonly string[]): Promise<ListedSource[]> => {
  const checked: ListedSource[] = new Array<ListedSource>(raw.length);
  const problems: Array<{ field: string; message: string; code: string }> = [];
  let next = 0;
  const lane = async () => {
    while (next < raw.length) {
      const index = next++;
      try {
        const { source: view, input, sizeBytes } = await resolveSource(deps, raw[index] ?? '');
        checked[index] = { source: view, input, sizeBytes };
      } catch (error) {
        if (!isAppError(error) || error.status >= 500) throw error;
        problems.push({
          field: `sources[${index}]`,
          message: error.message.replace(/^source: /, ''),
          code: error.code,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CHECK_CONCURRENCY, raw.length) }, lane));
  if (problems.length) {
    problems.sort((a, b) => a.field.localeCompare(b.field, 'en', { numeric: true }));
    const [first] = problems;
    throw new AppError(
      first?.code === 'SOURCE_NOT_FOUND' || first?.code === 'SOURCE_URL_FORBIDDEN' ? first.code : 'VALIDATION_ERROR',
      `${problems.length} of ${raw.length} sources cannot be processed; the first: ${first?.field}: ${first?.message}`,
      { status: 400, details: problems.map(({ field, message }) => ({ field, message })) },
    );
  }
  return checked;
};

/**
 * POST /documents/async/batches: a list of sources (each checked now, as
 * `process` checks one) or an s3:// prefix (listed in the background).
 */
export const makeCreateBatchHandler = (deps: () => BatchApiDeps) =>
  httpHandler(deps, async (event) => {
    const body = parseOrThrow(batchSchema, readFields(event), 'Invalid request');
    const callback = callbackOf(body.callback, deps().config.ALLOW_PRIVATE_URLS);
    const owner = callerOf(event);
    checkDestination(body.options.destination, owner, deps().config.KB_DESTINATIONS);
    checkFigureMode(body.options, deps().config.FIGURE_MODEL_ID || undefined);
    const common = { owner, options: body.options, callback, idempotencyKey: idempotencyKeyOf(event) };
    const submission = body.sources
      ? { ...common, kind: 'list' as const, sources: await checkSources(deps(), body.sources) }
      : { ...common, kind: 'prefix' as const, ...resolvePrefix(deps(), body.prefix ?? '') };
    const view = await createBatch(
      deps(),
      { bucket: deps().config.BUCKET_NAME, taskRetentionDays: deps().config.TASK_RETENTION_DAYS },
      submission,
    );
    const { replayed, ...shown } = view;
    return json(replayed ? 200 : 202, { ...shown, message: 'Batch submitted' });
  });

export const handler = makeCreateBatchHandler(batchApiDeps);
