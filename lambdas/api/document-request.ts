import * as z from 'zod';
import { isReadableSource, type SourceLocation } from '../../shared/definitions.js';
import { AppError } from '../errors.js';
import { cleanFilename, filenameFromUrl } from '../core/filenames.js';
import {
  OPTION_NAMES,
  optionsShape,
  parseOptions,
  parseOrThrow,
  withOptionDefaults,
  type ProcessingOptions,
} from '../documents/options.js';
import type { BlobStore } from '../core/ports.js';
import type { SubmissionRequest } from '../core/submission.js';
import { CALLBACK_FIELD_NAMES, callbackShape, type RawCallback } from '../core/events.js';
import { checkUrl } from '../core/url-policy.js';
import { header, rawBody, readFields, type ApiEvent } from './http.js';
import { parseMultipart } from './multipart.js';

/**
 * The two forms a document arrives in, read and checked here for every route
 * that takes one, so that they refuse the same requests with the same
 * messages: a multipart `file` with the options as form fields (upload,
 * preview), and a `source` (an http(s) URL or an s3:// URI) with the options,
 * as JSON or a form (process, preview).
 */
export type UploadedFile = Extract<SubmissionRequest, { kind: 'upload' }>;
export type ResolvedSource = Extract<SubmissionRequest, { kind: 'source' }>;

/** The fields of a form that submits a task (preview takes no callback: nothing is left to call back about). */
const fieldsOf = (withCallback: boolean) =>
  new Set<string>(['file', ...OPTION_NAMES, ...(withCallback ? CALLBACK_FIELD_NAMES : [])]);

/** Parts a valid upload never needs more of; anything beyond is refused, never dropped. */
const MULTIPART_LIMITS = { maxParts: 16, maxFiles: 1, maxFieldBytes: 1024, maxHeaderBytes: 8 * 1024 };

/**
 * A multipart body's `file` and options. A file above `maxFileBytes` is
 * refused with the error `tooLarge` makes (each route names its own way out).
 */
export const readUploadForm = (
  event: ApiEvent,
  maxFileBytes: number,
  tooLarge: () => AppError,
  { withCallback = false } = {},
): { file: UploadedFile; options: ProcessingOptions; callback: RawCallback } => {
  const { fields, files } = parseMultipart(
    rawBody(event),
    header(event, 'content-type') ?? '',
    { ...MULTIPART_LIMITS, maxFileBytes },
    tooLarge,
  );
  const allowed = fieldsOf(withCallback);
  const unknown = [...Object.keys(fields), ...Object.keys(files)].filter((name) => !allowed.has(name));
  if (unknown.length) throw new AppError('VALIDATION_ERROR', `Unknown form fields: ${unknown.join(', ')}.`);
  const file = files.file;
  if (!file) {
    throw new AppError(
      'VALIDATION_ERROR',
      'file: required; send the document as a multipart file field named "file" (with a filename).',
      { details: [{ field: 'file', message: 'required' }] },
    );
  }
  return {
    file: {
      kind: 'upload',
      bytes: file.content,
      filename: cleanFilename(file.filename),
      contentType: file.contentType,
    },
    options: parseOptions(Object.fromEntries(OPTION_NAMES.map((name) => [name, fields[name]]))),
    callback: parseOrThrow(
      z.object(callbackShape),
      Object.fromEntries(CALLBACK_FIELD_NAMES.map((name) => [name, fields[name]])),
      'Invalid request',
    ),
  };
};

/** Longer than any URL a browser or server accepts; a task row must stay far below DynamoDB's 400 KB item. */
const MAX_SOURCE_LENGTH = 8192;

const sourceField = z
  .string()
  .trim()
  .min(1, 'required')
  .max(MAX_SOURCE_LENGTH, `at most ${MAX_SOURCE_LENGTH} characters`);

const sourceBodySchema = z
  .strictObject({ source: sourceField, ...optionsShape })
  .transform(({ source, ...options }, ctx) => ({ source, options: withOptionDefaults(options, ctx), callback: {} }));

const sourceSubmissionSchema = z
  .strictObject({ source: sourceField, ...optionsShape, ...callbackShape })
  .transform(({ source, callback_url, callback_events, ...options }, ctx) => ({
    source,
    options: withOptionDefaults(options, ctx),
    callback: { callback_url, callback_events },
  }));

/** A JSON or form body's `source` (not yet checked: see `resolveSource`), options and, for a submission, callback. */
export const readSourceForm = (
  event: ApiEvent,
  { withCallback = false } = {},
): { source: string; options: ProcessingOptions; callback: RawCallback } =>
  parseOrThrow(withCallback ? sourceSubmissionSchema : sourceBodySchema, readFields(event), 'Invalid request');

const NOT_A_SOURCE =
  'source must be an http(s) URL or an s3://bucket/key URI. To process a local file, upload it with POST /documents/async/upload (or POST /documents/async/upload-url for large files), or put it in S3 and pass its s3:// URI.';

const sourceError = (message: string) =>
  new AppError('VALIDATION_ERROR', `source: ${message}`, { details: [{ field: 'source', message }] });

/** What checking a source reads: where s3:// sources may be, whether URLs may be private, whether an object is there. */
export interface SourceCheckDeps {
  config: { SOURCE_LOCATIONS: readonly SourceLocation[]; ALLOW_PRIVATE_URLS: boolean };
  blobs: Pick<BlobStore, 'head'>;
}

/** S3 keys are at most 1024 bytes; dot segments are refused so that no layer can resolve them away from the prefix. */
const MAX_KEY_BYTES = 1024;
const S3_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/s;

const resolveS3 = async (deps: SourceCheckDeps, raw: string): Promise<ResolvedSource> => {
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

/**
 * An `s3://bucket/prefix/` to list (a batch): under one of the readable
 * locations, so that everything listed there may be read. Nothing is read yet.
 */
export const resolvePrefix = (
  deps: Pick<SourceCheckDeps, 'config'>,
  raw: string,
): { bucket: string; prefix: string } => {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.*)$/s.exec(raw);
  if (!match) throw sourceError('a prefix to list looks like s3://bucket/prefix/.');
  const [, bucket = '', prefix = ''] = match;
  if (Buffer.byteLength(prefix) > MAX_KEY_BYTES || [...prefix].some((char) => char < ' ' || char === '\x7f')) {
    throw sourceError(`an S3 prefix has at most ${MAX_KEY_BYTES} bytes and no control characters.`);
  }
  const locations = deps.config.SOURCE_LOCATIONS;
  const readable = locations.some((location) => location.bucket === bucket && prefix.startsWith(location.prefix));
  if (prefix.split('/').some((segment) => segment === '.' || segment === '..') || !readable) {
    const places = locations.map((location) => `s3://${location.bucket}/${location.prefix}`).join(', ');
    throw new AppError(
      'SOURCE_URL_FORBIDDEN',
      `source: prefixes are listed only under ${places || 'no location (none is configured)'}.`,
      { status: 400, details: [{ field: 'source', message: 'not under a readable prefix' }] },
    );
  }
  return { bucket, prefix };
};

/**
 * A source checked as far as it can be before it is read: an s3:// object
 * under a readable location that exists (and its size), or a URL the address
 * policy allows (its host is checked again, resolved, when it is fetched).
 */
export const resolveSource = async (deps: SourceCheckDeps, raw: string): Promise<ResolvedSource> => {
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
