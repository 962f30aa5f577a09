import * as z from 'zod';
import { AppError } from '../core/errors.js';
import { cleanFilename, filenameFromUrl } from '../core/filenames.js';
import { optionsShape, parseOrThrow, withOptionDefaults } from '../core/options.js';
import type { SubmissionRequest } from '../core/submission.js';
import { submit } from '../core/submission.js';
import { checkUrl } from '../core/url-policy.js';
import { isReadableSource } from '../../shared/definitions.js';
import { apiDeps, submissionPolicy, SUBMITTED_MESSAGE, type ApiDeps } from './deps.js';
import { callerOf, httpHandler, idempotencyKeyOf, json, readFields } from './http.js';

/** Longer than any URL a browser or server accepts; a task row must stay far below DynamoDB's 400 KB item. */
const MAX_SOURCE_LENGTH = 8192;

const bodySchema = z
  .strictObject({
    source: z.string().trim().min(1, 'required').max(MAX_SOURCE_LENGTH, `at most ${MAX_SOURCE_LENGTH} characters`),
    ...optionsShape,
  })
  .transform(({ source, ...options }, ctx) => ({ source, options: withOptionDefaults(options, ctx) }));

const NOT_A_SOURCE =
  'source must be an http(s) URL or an s3://bucket/key URI. To process a local file, upload it with POST /documents/async/upload (or POST /documents/async/upload-url for large files), or put it in S3 and pass its s3:// URI.';

const sourceError = (message: string) =>
  new AppError('VALIDATION_ERROR', `source: ${message}`, { details: [{ field: 'source', message }] });

type ResolvedSource = Extract<SubmissionRequest, { kind: 'source' }>;

/** S3 keys are at most 1024 bytes; dot segments are refused so that no layer can resolve them away from the prefix. */
const MAX_KEY_BYTES = 1024;
const S3_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/s;

const resolveS3 = async (deps: ApiDeps, raw: string): Promise<ResolvedSource> => {
  const match = S3_URI.exec(raw);
  if (!match) throw sourceError('an s3 URI looks like s3://bucket/key.');
  const [, bucket = '', key = ''] = match;
  if (Buffer.byteLength(key) > MAX_KEY_BYTES || [...key].some((char) => char < ' ' || char === '\x7f')) {
    throw sourceError(`an S3 key has at most ${MAX_KEY_BYTES} bytes and no control characters.`);
  }
  const locations = deps.config.SOURCE_LOCATIONS;
  if (
    key.split('/').some((segment) => segment === '.' || segment === '..') ||
    !isReadableSource(locations, bucket, key)
  ) {
    const readable = locations.map((location) => `s3://${location.bucket}/${location.prefix}`).join(', ');
    throw new AppError(
      'SOURCE_URL_FORBIDDEN',
      `source: s3:// sources are read only under ${readable || 'no location (none is configured)'}.`,
      { status: 400, details: [{ field: 'source', message: 'not under a readable prefix' }] },
    );
  }
  const head = await deps.blobs.head(bucket, key);
  if (!head) {
    throw new AppError('SOURCE_NOT_FOUND', 'source: no object can be read at that s3:// URI.', {
      status: 400,
      details: [{ field: 'source', message: 'not found' }],
    });
  }
  return {
    kind: 'source',
    source: { type: 's3', uri: raw, filename: cleanFilename(key.split('/').pop()), size_bytes: head.size },
    input: { kind: 's3', bucket, key },
    sizeBytes: head.size,
  };
};

const resolveSource = async (deps: ApiDeps, raw: string): Promise<ResolvedSource> => {
  if (/^s3:\/\//i.test(raw)) return resolveS3(deps, raw);
  if (!/^https?:\/\//i.test(raw)) throw sourceError(NOT_A_SOURCE);
  let url: URL;
  try {
    url = checkUrl(raw, { allowPrivateAddresses: deps.config.ALLOW_PRIVATE_URLS });
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    throw new AppError(error.code, `source: ${error.message}`, {
      status: 400,
      details: [{ field: 'source', message: error.message }],
    });
  }
  return {
    kind: 'source',
    source: { type: 'url', url: url.href, filename: filenameFromUrl(url) },
    input: { kind: 'url', url: url.href },
  };
};

/** POST /documents/async/process: a URL or an s3:// URI, as JSON or a form. */
export const makeProcessHandler = (deps: () => ApiDeps) =>
  httpHandler(deps, async (event) => {
    const { source: rawSource, options } = parseOrThrow(bodySchema, readFields(event), 'Invalid request');
    const request = await resolveSource(deps(), rawSource);
    const outcome = await submit(deps(), submissionPolicy(deps().config), {
      request,
      options,
      owner: callerOf(event),
      idempotencyKey: idempotencyKeyOf(event),
    });
    return json(outcome.replayed ? 200 : 202, {
      task_id: outcome.task.task_id,
      status: outcome.task.status,
      message: SUBMITTED_MESSAGE,
    });
  });

export const handler = makeProcessHandler(apiDeps);
