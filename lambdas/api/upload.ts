import { AppError } from '../errors.js';
import { callbackOf } from '../core/events.js';
import { submit } from '../core/submission.js';
import { apiDeps, submissionPolicy, SUBMITTED_MESSAGE, type ApiDeps } from './deps.js';
import { readUploadForm } from './document-request.js';
import { callerOf, httpHandler, idempotencyKeyOf, json, mediaType } from './http.js';

const tooLarge = (limit: number) =>
  new AppError(
    'PAYLOAD_TOO_LARGE',
    `Files above ${limit} bytes cannot be uploaded directly; request a presigned URL with POST /documents/async/upload-url and PUT the file there.`,
  );

/** POST /documents/async/upload: multipart `file` plus the options as form fields. */
export const makeUploadHandler = (deps: () => ApiDeps) =>
  httpHandler(deps, async (event) => {
    const { config } = deps();
    if (mediaType(event) !== 'multipart/form-data') {
      throw new AppError(
        'UNSUPPORTED_MEDIA_TYPE',
        'Send the file as multipart/form-data with a field named "file" (or use /process for URLs and s3:// URIs).',
      );
    }
    // Headers first: a bad one must not leave a stored object behind.
    const idempotencyKey = idempotencyKeyOf(event);
    const { file, options, callback } = readUploadForm(
      event,
      config.DIRECT_UPLOAD_MAX_BYTES,
      () => tooLarge(config.DIRECT_UPLOAD_MAX_BYTES),
      { withCallback: true },
    );
    const outcome = await submit(deps(), submissionPolicy(config), {
      request: file,
      options,
      owner: callerOf(event),
      idempotencyKey,
      callback: callbackOf(callback, config.ALLOW_PRIVATE_URLS),
    });
    return json(outcome.replayed ? 200 : 202, {
      task_id: outcome.task.task_id,
      status: outcome.task.status,
      message: SUBMITTED_MESSAGE,
    });
  });

export const handler = makeUploadHandler(apiDeps);
