import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, NotFound } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/util-stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../lambdas/adapters/s3-blob-store.js';
import type { PreviewFunctionDeps } from '../../lambdas/api/preview-deps.js';
import { makePreviewHandler } from '../../lambdas/api/preview.js';
import { previewEnvironmentSchema } from '../../lambdas/config.js';
import { AppError } from '../../lambdas/errors.js';
import type { FetchSource, SourceFetchLimits } from '../../lambdas/core/ports.js';
import type { ProcessInSandbox } from '../../lambdas/documents/sandbox.js';
import { PREVIEW_LIMITS } from '../../shared/definitions.js';
import { apiEvent, bodyOf, lambdaContext, mockedAws, multipart } from '../support/api.js';
import { readCorpus } from '../support/corpus.js';
import { processInSandbox } from '../support/sandbox.js';

const aws = mockedAws();
const MEMO = 'A memo.\n\nIt has two paragraphs.';

let fetched: Array<{ url: string; limits: SourceFetchLimits }>;
let processed: Array<Parameters<ProcessInSandbox>>;
let fetchSource: FetchSource;
let processDocument: ProcessInSandbox;

const deps = (overrides: Record<string, string> = {}): PreviewFunctionDeps => ({
  config: previewEnvironmentSchema.parse({
    SOURCE_LOCATIONS: 'docs-bucket/inbox/',
    RESULT_INLINE_LIMIT_BYTES: String(4 * 1024 * 1024),
    SANDBOX_MEMORY_MB: '512',
    ...overrides,
  }),
  blobs: new S3BlobStore(aws.s3),
  fetchSource: (url, limits) => {
    fetched.push({ url, limits });
    return fetchSource(url, limits);
  },
  processDocument: (...args) => {
    processed.push(args);
    return processDocument(...args);
  },
});

const preview = (event: ReturnType<typeof apiEvent>, overrides: Record<string, string> = {}) =>
  makePreviewHandler(() => deps(overrides))(event, lambdaContext());

const previewFile = (
  name: string,
  bytes: string | Buffer,
  fields: Record<string, string> = {},
  overrides: Record<string, string> = {},
) => {
  const { body, contentType } = multipart([
    { name: 'file', value: bytes, filename: name, contentType: 'text/plain' },
    ...Object.entries(fields).map(([field, value]) => ({ name: field, value })),
  ]);
  return preview(apiEvent({ path: '/documents/preview', body, headers: { 'content-type': contentType } }), overrides);
};

const previewSource = (body: Record<string, unknown>) =>
  preview(
    apiEvent({
      path: '/documents/preview',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    }),
  );

const stored = (bytes: string | Buffer, contentType = 'text/plain') => ({
  Body: sdkStreamMixin(Readable.from([Buffer.from(bytes)])),
  ContentLength: Buffer.byteLength(bytes),
  ContentType: contentType,
});

beforeEach(() => {
  aws.s3Mock.reset();
  fetched = [];
  processed = [];
  fetchSource = async (url) => ({ bytes: Buffer.from(MEMO), contentType: 'text/plain', finalUrl: url });
  processDocument = processInSandbox;
});

describe('POST /documents/preview', () => {
  it('processes a multipart file in the sandbox within the preview caps, and answers its result', async () => {
    const started = Date.now();
    const response = await previewFile('memo.txt', MEMO, { split: 'true', chunk_size: '10', chunk_overlap: '0' });
    expect(response.statusCode).toBe(200);
    const { result } = bodyOf(response);
    expect(result).toMatchObject({ status: 'success', filename: 'memo.txt', format: 'text', document_count: 5 });
    expect(result.documents[0]).toMatchObject({
      page_content: 'A memo.',
      metadata: { source: 'memo.txt', chunk_index: 0, start_index: 0 },
    });
    const [[input, options, context]] = processed as [Parameters<ProcessInSandbox>];
    expect(input).toMatchObject({ filename: 'memo.txt', contentType: 'text/plain' });
    expect(options).toEqual({ split: true, chunk_size: 10, chunk_overlap: 0 });
    expect(context.limits).toEqual({
      maxInputBytes: PREVIEW_LIMITS.maxInputBytes,
      maxPages: PREVIEW_LIMITS.maxPages,
      maxResultBytes: 4 * 1024 * 1024,
    });
    expect(context.deadline).toBeGreaterThanOrEqual(started + PREVIEW_LIMITS.timeBudgetMs);
    expect(context.deadline).toBeLessThanOrEqual(Date.now() + PREVIEW_LIMITS.timeBudgetMs);
    expect(aws.s3Mock.calls()).toHaveLength(0);
  });

  it('refuses callback_url in either form: a preview leaves no task to call back about', async () => {
    const form = await previewFile('a.txt', 'hello', { callback_url: 'https://hooks.example.com/' });
    expect(form.statusCode).toBe(400);
    expect(bodyOf(form).error.message).toContain('callback_url');
    const json = await previewSource({
      source: 'https://example.com/a.txt',
      callback_url: 'https://hooks.example.com/',
    });
    expect(json.statusCode).toBe(400);
    expect(bodyOf(json).error.message).toContain('callback_url');
  });

  it('refuses a file above the cap with 413 PAYLOAD_TOO_LARGE naming the asynchronous routes, unprocessed', async () => {
    const response = await previewFile('big.txt', Buffer.alloc(PREVIEW_LIMITS.maxInputBytes + 1, 'a'));
    expect(response.statusCode).toBe(413);
    expect(bodyOf(response).error.code).toBe('PAYLOAD_TOO_LARGE');
    for (const route of ['/documents/async/upload', '/documents/async/upload-url', '/documents/async/process']) {
      expect(bodyOf(response).error.message).toContain(route);
    }
    expect(processed).toHaveLength(0);
  });

  it('fetches a URL source capped at the preview size, by the deadline, with the address policy', async () => {
    const response = await previewSource({ source: 'https://example.com/files/memo.txt' });
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response).result.documents[0].metadata).toMatchObject({
      source: 'https://example.com/files/memo.txt',
      filename: 'memo.txt',
    });
    const [{ url, limits }] = fetched as [{ url: string; limits: SourceFetchLimits }];
    expect(url).toBe('https://example.com/files/memo.txt');
    expect(limits).toMatchObject({
      maxBytes: PREVIEW_LIMITS.maxInputBytes,
      maxRedirects: 5,
      allowPrivateAddresses: false,
    });
    expect(limits.timeoutMs).toBeLessThanOrEqual(PREVIEW_LIMITS.timeBudgetMs);
    expect(limits.connectTimeoutMs).toBeLessThanOrEqual(limits.timeoutMs);
  });

  it('answers a URL source above the cap as a file above it: 413 PAYLOAD_TOO_LARGE', async () => {
    fetchSource = async () => {
      throw new AppError('SOURCE_TOO_LARGE', 'The source is 3000000 bytes; the limit is 2097152.');
    };
    const response = await previewSource({ source: 'https://example.com/big.pdf' });
    expect(response.statusCode).toBe(413);
    expect(bodyOf(response).error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(processed).toHaveLength(0);
  });

  it('reads an s3:// source under a readable prefix: HEAD, then GET', async () => {
    aws.s3Mock.on(HeadObjectCommand).resolves({ ContentLength: MEMO.length, ContentType: 'text/plain' });
    aws.s3Mock.on(GetObjectCommand).resolves(stored(MEMO));
    const response = await previewSource({ source: 's3://docs-bucket/inbox/memo.txt' });
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response).result.documents[0].metadata.source).toBe('s3://docs-bucket/inbox/memo.txt');
    for (const command of [HeadObjectCommand, GetObjectCommand]) {
      expect(aws.s3Mock.commandCalls(command)[0]?.args[0].input).toEqual({
        Bucket: 'docs-bucket',
        Key: 'inbox/memo.txt',
      });
    }
  });

  it('refuses an s3:// object above the cap from its HEAD, without reading it', async () => {
    aws.s3Mock.on(HeadObjectCommand).resolves({ ContentLength: PREVIEW_LIMITS.maxInputBytes + 1 });
    const response = await previewSource({ source: 's3://docs-bucket/inbox/big.pdf' });
    expect(response.statusCode).toBe(413);
    expect(bodyOf(response).error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(aws.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  it.each([
    ['outside the readable prefixes', 's3://docs-bucket/results/x/y.json', 'SOURCE_URL_FORBIDDEN'],
    ['missing', 's3://docs-bucket/inbox/missing.txt', 'SOURCE_NOT_FOUND'],
  ])('refuses an s3:// source %s as process does: 400', async (_case, source, code) => {
    aws.s3Mock.on(HeadObjectCommand).rejects(new NotFound({ message: 'NotFound', $metadata: {} }));
    const response = await previewSource({ source });
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error.code).toBe(code);
    expect(aws.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  it('refuses a bad option in either form with 400 naming the allowed values', async () => {
    for (const response of [
      await previewFile('memo.txt', MEMO, { chunk_strategy: 'diagonal' }),
      await previewSource({ source: 'https://example.com/a.txt', chunk_strategy: 'diagonal' }),
    ]) {
      expect(response.statusCode).toBe(400);
      expect(bodyOf(response).error.code).toBe('VALIDATION_ERROR');
      expect(bodyOf(response).error.message).toContain('expected one of: recursive, markdown, by_heading, by_page');
    }
    expect(processed).toHaveLength(0);
  });

  it('answers a document that cannot be read with its code: 422', async () => {
    const response = await previewFile('password.pdf', readCorpus('pdf/password.pdf'));
    expect(response.statusCode).toBe(422);
    expect(bodyOf(response).error.code).toBe('PDF_PASSWORD_PROTECTED');
  });

  it('answers a PDF over the page cap with 413 DOCUMENT_TOO_LARGE, pointing to the asynchronous routes', async () => {
    const response = await previewFile('long.pdf', readCorpus('pdf/failure-after-repair.pdf'));
    expect(response.statusCode).toBe(413);
    expect(bodyOf(response).error).toMatchObject({ code: 'DOCUMENT_TOO_LARGE' });
    expect(bodyOf(response).error.message).toContain(`the limit is ${PREVIEW_LIMITS.maxPages}`);
    expect(bodyOf(response).error.message).toContain('/documents/async/upload');
  });

  it('answers a result larger than a response carries with 413 DOCUMENT_TOO_LARGE', async () => {
    const response = await previewFile('memo.txt', 'word '.repeat(1000), {}, { RESULT_INLINE_LIMIT_BYTES: '2048' });
    expect(response.statusCode).toBe(413);
    expect(bodyOf(response).error.code).toBe('DOCUMENT_TOO_LARGE');
  });

  it('answers the time budget spent with a typed 422 SOFT_TIME_LIMIT, not a gateway timeout', async () => {
    processDocument = async () => {
      throw new AppError('SOFT_TIME_LIMIT', 'Processing stopped at the soft time limit.');
    };
    const response = await previewFile('memo.txt', MEMO);
    expect(response.statusCode).toBe(422);
    expect(bodyOf(response).error.code).toBe('SOFT_TIME_LIMIT');
    expect(bodyOf(response).error.message).toContain(`${PREVIEW_LIMITS.timeBudgetMs / 1000} s`);
  });

  it('refuses a body that is neither multipart nor JSON nor a form: 415', async () => {
    const response = await preview(
      apiEvent({ path: '/documents/preview', body: MEMO, headers: { 'content-type': 'text/plain' } }),
    );
    expect(response.statusCode).toBe(415);
  });
});
