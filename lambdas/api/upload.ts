import { createHash } from 'node:crypto';
import type middy from '@middy/core';
import multipartBodyParser from '@middy/http-multipart-body-parser';
import { AppError } from '../core/errors.js';
import { cleanFilename } from '../core/filenames.js';
import { parseOptions } from '../core/options.js';
import { fingerprint, scopedKey, submitTask } from '../core/tasks.js';
import { PREFIX } from '../../lib/definitions.js';
import { recordSubmitted } from '../observability.js';
import { apiDeps, submissionPolicy, SUBMITTED_MESSAGE, type ApiDeps } from './deps.js';
import { callerOf, httpHandler, idempotencyKeyOf, json, mediaType, type ApiEvent, type ApiResult } from './http.js';

interface Attachment {
  filename: string;
  mimetype: string;
  truncated: boolean;
  content: Buffer;
}

const ALLOWED_FIELDS = new Set(['file', 'split', 'chunk_size', 'chunk_overlap']);

const isAttachment = (value: unknown): value is Attachment =>
  typeof value === 'object' && value !== null && Buffer.isBuffer((value as Attachment).content);

const tooLarge = (limit: number) =>
  new AppError(
    'PAYLOAD_TOO_LARGE',
    `Files above ${limit} bytes cannot be uploaded directly; request a presigned URL with POST /documents/async/upload-url and PUT the file there.`,
  );

/** POST /documents/async/upload: multipart `file` plus the options as form fields. */
export const makeUploadHandler = (deps: () => ApiDeps) => {
  return httpHandler(
    async (event) => {
      const { config, blobs } = deps();
      const fields = event.body as unknown as Record<string, unknown>;
      const unknown = Object.keys(fields).filter((name) => !ALLOWED_FIELDS.has(name));
      if (unknown.length) throw new AppError('VALIDATION_ERROR', `Unknown form fields: ${unknown.join(', ')}.`);
      const file = fields.file;
      if (Array.isArray(file)) throw new AppError('VALIDATION_ERROR', 'file: send exactly one file.');
      if (!isAttachment(file)) {
        throw new AppError(
          'VALIDATION_ERROR',
          'file: required; send the document as a multipart file field named "file".',
        );
      }
      if (file.truncated || file.content.length > config.DIRECT_UPLOAD_MAX_BYTES)
        throw tooLarge(config.DIRECT_UPLOAD_MAX_BYTES);
      const options = parseOptions({
        split: fields.split,
        chunk_size: fields.chunk_size,
        chunk_overlap: fields.chunk_overlap,
      });
      const filename = cleanFilename(file.filename);
      const contentType = file.mimetype && file.mimetype !== 'application/octet-stream' ? file.mimetype : undefined;

      const taskId = deps().newId();
      const key = `${PREFIX.direct}${taskId}/input`;
      await blobs.put(config.BUCKET_NAME, key, file.content, file.mimetype || 'application/octet-stream');
      const idempotencyKey = idempotencyKeyOf(event);
      const owner = callerOf(event);
      const outcome = await submitTask(deps(), submissionPolicy(config), {
        taskId,
        status: 'PENDING',
        source: { type: 'upload', filename, size_bytes: file.content.length, content_type: contentType },
        input: { kind: 's3', bucket: config.BUCKET_NAME, key },
        options,
        sizeBytes: file.content.length,
        owner,
        idempotency:
          idempotencyKey === undefined
            ? undefined
            : {
                key: scopedKey(idempotencyKey, owner),
                fingerprint: fingerprint(
                  'upload',
                  filename,
                  options,
                  createHash('sha256').update(file.content).digest('hex'),
                ),
              },
      }).catch(async (error: unknown) => {
        await blobs.delete(config.BUCKET_NAME, key).catch(() => undefined);
        throw error;
      });
      if (outcome.replayed) await blobs.delete(config.BUCKET_NAME, key).catch(() => undefined);
      else recordSubmitted(outcome.task.source);
      return json(outcome.replayed ? 200 : 202, {
        task_id: outcome.task.task_id,
        status: outcome.task.status,
        message: SUBMITTED_MESSAGE,
      });
    },
    {
      before: (request) => {
        if (!mediaType(request.event).startsWith('multipart/form-data')) {
          throw new AppError(
            'UNSUPPORTED_MEDIA_TYPE',
            'Send the file as multipart/form-data with a field named "file" (or use /process for URLs and s3:// URIs).',
          );
        }
      },
    },
    lazyMultipart(() => deps().config.DIRECT_UPLOAD_MAX_BYTES),
  );
};

/** middy's multipart parser (busboy), built on first use so the size limit comes from the configuration. */
const lazyMultipart = (maxFileBytes: () => number): middy.MiddlewareObj<ApiEvent, ApiResult> => {
  let parser: middy.MiddlewareObj | undefined;
  return {
    before: async (request) => {
      parser ??= multipartBodyParser({
        busboy: { limits: { files: 2, fields: 16, fieldSize: 1024, fileSize: maxFileBytes() + 1 } },
      }) as unknown as middy.MiddlewareObj;
      await parser.before?.(request);
    },
  };
};

export const handler = makeUploadHandler(apiDeps);
