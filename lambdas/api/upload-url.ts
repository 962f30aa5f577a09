import * as z from 'zod';
import { cleanFilename } from '../core/filenames.js';
import { optionsShape, parseOrThrow, withOptionDefaults } from '../documents/options.js';
import type { Task } from '../core/task.js';
import { callbackOf, callbackShape } from '../core/events.js';
import { submit } from '../core/submission.js';
import { apiDeps, submissionPolicy, type ApiDeps } from './deps.js';
import { callerOf, httpHandler, idempotencyKeyOf, json, readFields } from './http.js';

const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+(?:\s*;\s*[\w.+-]+=[\w.+-]+)*$/;

const bodySchema = (maxBytes: number) =>
  z
    .strictObject({
      filename: z.string().trim().min(1, 'required').max(1024),
      content_type: z.string().trim().regex(CONTENT_TYPE, 'expected a media type such as application/pdf').optional(),
      size_bytes: z.number().int('expected an integer').min(0).max(maxBytes, `the largest upload is ${maxBytes} bytes`),
      ...optionsShape,
      ...callbackShape,
    })
    .transform(({ filename, content_type, size_bytes, callback_url, callback_events, ...options }, ctx) => ({
      filename: cleanFilename(filename),
      contentType: content_type ?? 'application/octet-stream',
      sizeBytes: size_bytes,
      options: withOptionDefaults(options, ctx),
      callback: { callback_url, callback_events },
    }));

const uploadInstructions = async (deps: ApiDeps, task: Task) => {
  const { config, blobs } = deps;
  if (task.input.kind !== 's3' || task.source.type !== 'presigned') return undefined;
  const contentType = task.source.content_type ?? 'application/octet-stream';
  const url = await blobs.presignPut(task.input.bucket, task.input.key, {
    contentType,
    contentLength: task.source.size_bytes,
    expiresIn: config.PRESIGNED_URL_TTL_SECONDS,
  });
  return { url, method: 'PUT', headers: { 'content-type': contentType }, expires_at: task.upload_expires_at };
};

/** POST /documents/async/upload-url: a presigned PUT for large files; the upload starts the task by itself. */
export const makeUploadUrlHandler = (deps: () => ApiDeps) =>
  httpHandler(deps, async (event) => {
    const { config } = deps();
    const body = parseOrThrow(bodySchema(config.PRESIGNED_UPLOAD_MAX_BYTES), readFields(event), 'Invalid request');
    const outcome = await submit(deps(), submissionPolicy(config), {
      request: { kind: 'presigned', filename: body.filename, contentType: body.contentType, sizeBytes: body.sizeBytes },
      options: body.options,
      owner: callerOf(event),
      idempotencyKey: idempotencyKeyOf(event),
      callback: callbackOf(body.callback, config.ALLOW_PRIVATE_URLS),
    });
    const { task } = outcome;
    const upload = task.status === 'AWAITING_UPLOAD' ? await uploadInstructions(deps(), task) : undefined;
    return json(outcome.replayed ? 200 : 201, {
      task_id: task.task_id,
      status: task.status,
      ...(upload ? { upload } : {}),
    });
  });

export const handler = makeUploadUrlHandler(apiDeps);
