import { AppError } from '../core/errors.js';
import { cleanFilename } from '../core/filenames.js';
import { OPTION_NAMES, parseOptions } from '../core/options.js';
import { submit } from '../core/submission.js';
import { apiDeps, submissionPolicy, SUBMITTED_MESSAGE, type ApiDeps } from './deps.js';
import { callerOf, header, httpHandler, idempotencyKeyOf, json, mediaType, rawBody } from './http.js';
import { parseMultipart } from './multipart.js';

const ALLOWED_FIELDS = new Set<string>(['file', ...OPTION_NAMES]);

/** Parts a valid upload never needs more of; anything beyond is refused, never dropped. */
const MULTIPART_LIMITS = { maxParts: 16, maxFiles: 1, maxFieldBytes: 1024, maxHeaderBytes: 8 * 1024 };

const tooLarge = (limit: number) =>
  new AppError(
    'PAYLOAD_TOO_LARGE',
    `Files above ${limit} bytes cannot be uploaded directly; request a presigned URL with POST /documents/async/upload-url and PUT the file there.`,
  );

/** POST /documents/async/upload: multipart `file` plus the options as form fields. */
export const makeUploadHandler = (deps: () => ApiDeps) =>
  httpHandler(deps, async (event) => {
    const { config } = deps();
    const contentType = header(event, 'content-type') ?? '';
    if (mediaType(event) !== 'multipart/form-data') {
      throw new AppError(
        'UNSUPPORTED_MEDIA_TYPE',
        'Send the file as multipart/form-data with a field named "file" (or use /process for URLs and s3:// URIs).',
      );
    }
    // Headers first: a bad one must not leave a stored object behind.
    const idempotencyKey = idempotencyKeyOf(event);
    const { fields, files } = parseMultipart(
      rawBody(event),
      contentType,
      { ...MULTIPART_LIMITS, maxFileBytes: config.DIRECT_UPLOAD_MAX_BYTES },
      () => tooLarge(config.DIRECT_UPLOAD_MAX_BYTES),
    );
    const unknown = [...Object.keys(fields), ...Object.keys(files)].filter((name) => !ALLOWED_FIELDS.has(name));
    if (unknown.length) throw new AppError('VALIDATION_ERROR', `Unknown form fields: ${unknown.join(', ')}.`);
    const file = files.file;
    if (!file) {
      throw new AppError(
        'VALIDATION_ERROR',
        'file: required; send the document as a multipart file field named "file" (with a filename).',
        { details: [{ field: 'file', message: 'required' }] },
      );
    }
    const options = parseOptions(Object.fromEntries(OPTION_NAMES.map((name) => [name, fields[name]])));
    const outcome = await submit(deps(), submissionPolicy(config), {
      request: {
        kind: 'upload',
        bytes: file.content,
        filename: cleanFilename(file.filename),
        contentType: file.contentType,
      },
      options,
      owner: callerOf(event),
      idempotencyKey,
    });
    return json(outcome.replayed ? 200 : 202, {
      task_id: outcome.task.task_id,
      status: outcome.task.status,
      message: SUBMITTED_MESSAGE,
    });
  });

export const handler = makeUploadHandler(apiDeps);
