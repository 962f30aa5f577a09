import { HeadObjectCommand, NotFound } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeProcessHandler } from '../../lambdas/api/process.js';
import { TASK_ID } from '../support/fixtures.js';
import { apiEvent, apiTestDeps, bodyOf, LARGE_QUEUE_URL, lambdaContext, mockedAws, QUEUE_URL } from '../support/api.js';

const aws = mockedAws();
const handler = makeProcessHandler(() => apiTestDeps(aws));

const post = (body: string, contentType = 'application/json') =>
  handler(
    apiEvent({ path: '/documents/async/process', body, headers: { 'content-type': contentType } }),
    lambdaContext(),
  );

const row = () => aws.ddbMock.commandCalls(PutCommand)[0]?.args[0].input.Item as Record<string, any>;

beforeEach(() => {
  aws.ddbMock.reset();
  aws.s3Mock.reset();
  aws.sqsMock.reset();
  aws.ddbMock.on(PutCommand).resolves({});
  aws.sqsMock.on(SendMessageCommand).resolves({});
});

describe('POST /documents/async/process', () => {
  it('accepts a URL as JSON', async () => {
    const response = await post(JSON.stringify({ source: 'https://example.com/files/report.pdf', split: true }));
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toEqual({
      task_id: TASK_ID,
      status: 'PENDING',
      message: 'Document processing task submitted',
    });
    expect(row()).toMatchObject({
      source: { type: 'url', url: 'https://example.com/files/report.pdf', filename: 'report.pdf' },
      input: { kind: 'url', url: 'https://example.com/files/report.pdf' },
      options: { split: true, chunk_size: 1000, chunk_overlap: 200 },
      queue: 'standard',
    });
    expect(aws.sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input.QueueUrl).toBe(QUEUE_URL);
  });

  it("accepts the original Python client's form body (split=True)", async () => {
    const response = await post(
      'source=https%3A%2F%2Fexample.com%2Fa.html&split=True',
      'application/x-www-form-urlencoded',
    );
    expect(response.statusCode).toBe(202);
    expect(row().options).toEqual({ split: true, chunk_size: 1000, chunk_overlap: 200 });
  });

  it('stores a callback_url with the events asked for (JSON or form), and none without one', async () => {
    await post(
      JSON.stringify({
        source: 'https://example.com/a.pdf',
        callback_url: 'https://hooks.example.com/docproc',
        callback_events: ['task.started', 'task.failed'],
      }),
    );
    expect(row().callback).toEqual({
      url: 'https://hooks.example.com/docproc',
      events: ['task.started', 'task.failed'],
    });
    aws.ddbMock.resetHistory();
    await post(
      'source=https%3A%2F%2Fexample.com%2Fa.html&callback_url=https%3A%2F%2Fhooks.example.com%2F',
      'application/x-www-form-urlencoded',
    );
    expect(row().callback).toEqual({
      url: 'https://hooks.example.com/',
      events: ['task.succeeded', 'task.failed', 'task.revoked'],
    });
    aws.ddbMock.resetHistory();
    await post(JSON.stringify({ source: 'https://example.com/a.pdf' }));
    expect(row()).not.toHaveProperty('callback');
  });

  it.each([
    [{ callback_url: 'http://169.254.169.254/latest/meta-data' }, 'SOURCE_URL_FORBIDDEN', 'callback_url'],
    [{ callback_url: 'http://127.0.0.1:8080/hook' }, 'SOURCE_URL_FORBIDDEN', 'callback_url'],
    [{ callback_events: 'task.failed' }, 'VALIDATION_ERROR', 'needs a callback_url'],
    [{ callback_url: 'https://a.example', callback_events: ['task.done'] }, 'VALIDATION_ERROR', 'task.succeeded'],
  ])('refuses %j at submission with a 400 (%s)', async (fields, code, message) => {
    const response = await post(JSON.stringify({ source: 'https://example.com/a.pdf', ...fields }));
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error).toMatchObject({ code });
    expect(bodyOf(response).error.message).toContain(message);
    expect(aws.ddbMock.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('accepts an s3:// URI in its own bucket, sized by HeadObject', async () => {
    aws.s3Mock.on(HeadObjectCommand).resolves({ ContentLength: 5000, ContentType: 'application/pdf' });
    const response = await post(JSON.stringify({ source: 's3://docs-bucket/inbox/q3 report.pdf' }));
    expect(response.statusCode).toBe(202);
    expect(aws.s3Mock.commandCalls(HeadObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'docs-bucket',
      Key: 'inbox/q3 report.pdf',
    });
    expect(row()).toMatchObject({
      source: { type: 's3', uri: 's3://docs-bucket/inbox/q3 report.pdf', filename: 'q3 report.pdf', size_bytes: 5000 },
      input: { kind: 's3', bucket: 'docs-bucket', key: 'inbox/q3 report.pdf' },
      queue: 'large',
    });
    expect(aws.sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input.QueueUrl).toBe(LARGE_QUEUE_URL);
  });

  it('accepts an allowed partner bucket', async () => {
    aws.s3Mock.on(HeadObjectCommand).resolves({ ContentLength: 10 });
    expect((await post(JSON.stringify({ source: 's3://partner-bucket/a.txt' }))).statusCode).toBe(202);
  });

  it('refuses a bucket the deployment does not read from', async () => {
    const response = await post(JSON.stringify({ source: 's3://someone-else/a.pdf' }));
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error.code).toBe('SOURCE_URL_FORBIDDEN');
    expect(aws.s3Mock.commandCalls(HeadObjectCommand)).toHaveLength(0);
  });

  it.each([
    ["another task's input", 's3://docs-bucket/direct/0b6f3c8e-2d4a-4f6b-9c1e-5a7d8e9f0a1b/input'],
    ["another task's result", 's3://docs-bucket/results/0b6f3c8e-2d4a-4f6b-9c1e-5a7d8e9f0a1b/r.json'],
    ['a presigned upload', 's3://docs-bucket/uploads/x/input'],
    ['the bucket root', 's3://docs-bucket/readme.txt'],
    ['the prefix itself', 's3://docs-bucket/inbox/'],
    ['a dot segment out of the prefix', 's3://docs-bucket/inbox/../results/x.json'],
    ['a dot segment inside it', 's3://docs-bucket/inbox/./a.pdf'],
  ])('refuses %s at submission: 400 SOURCE_URL_FORBIDDEN, no S3 call', async (_name, source) => {
    const response = await post(JSON.stringify({ source }));
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error.code).toBe('SOURCE_URL_FORBIDDEN');
    expect(bodyOf(response).error.message).toContain('s3://docs-bucket/inbox/');
    expect(aws.s3Mock.commandCalls(HeadObjectCommand)).toHaveLength(0);
  });

  it('answers 400 for a source of 250 KB (it would not fit a task row), never 500', async () => {
    const response = await post(JSON.stringify({ source: `https://example.com/${'a'.repeat(250_000)}` }));
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error.code).toBe('VALIDATION_ERROR');
  });

  it.each([
    ['a 100 KB key', `s3://docs-bucket/inbox/${'k'.repeat(100_000)}`],
    ['a key with a control character', 's3://docs-bucket/inbox/a\u0000b'],
  ])('answers 400 for %s, never 500', async (_name, source) => {
    const response = await post(JSON.stringify({ source }));
    expect(response.statusCode).toBe(400);
    expect(aws.s3Mock.commandCalls(HeadObjectCommand)).toHaveLength(0);
  });

  it.each([
    ['missing (404)', new NotFound({ message: 'NotFound', $metadata: { httpStatusCode: 404 } })],
    [
      'refused (403, as S3 answers a missing key without ListBucket)',
      Object.assign(new Error('Forbidden'), { name: 'Forbidden', $metadata: { httpStatusCode: 403 } }),
    ],
  ])('says so at submission when the s3 object is %s: 400 SOURCE_NOT_FOUND, naming no key', async (_name, error) => {
    aws.s3Mock.on(HeadObjectCommand).rejects(error);
    const response = await post(JSON.stringify({ source: 's3://docs-bucket/inbox/missing.pdf' }));
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error.code).toBe('SOURCE_NOT_FOUND');
    expect(bodyOf(response).error.message).not.toContain('missing.pdf');
  });

  it.each(['/etc/passwd', 'C:\\docs\\a.pdf', 'file:///etc/passwd', 'ftp://example.com/a.pdf', 'report.pdf'])(
    'refuses %s with a message that says to upload or use s3://',
    async (source) => {
      const response = await post(JSON.stringify({ source }));
      expect(response.statusCode).toBe(400);
      expect(bodyOf(response).error.code).toBe('VALIDATION_ERROR');
      expect(bodyOf(response).error.message).toMatch(/upload.*s3:\/\//);
    },
  );

  it.each([
    'http://127.0.0.1/admin',
    'http://2130706433/',
    'http://0x7f.1/',
    'http://[::ffff:127.0.0.1]/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/',
    'http://10.0.0.5/',
    'http://100.64.1.1/',
    'http://localhost:8080/',
    'http://user:pass@example.com/',
  ])('refuses %s at submission (SSRF)', async (source) => {
    const response = await post(JSON.stringify({ source }));
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error.code).toBe('SOURCE_URL_FORBIDDEN');
    expect(aws.ddbMock.commandCalls(PutCommand)).toHaveLength(0);
  });

  it.each([
    ['invalid JSON', '{"source": ', 'application/json', 400, 'VALIDATION_ERROR'],
    ['a JSON array', '[1,2]', 'application/json', 400, 'VALIDATION_ERROR'],
    ['no source', '{"split": true}', 'application/json', 400, 'VALIDATION_ERROR'],
    [
      'an unknown field',
      '{"source": "https://example.com/a", "colour": 1}',
      'application/json',
      400,
      'VALIDATION_ERROR',
    ],
    [
      'a bad option',
      '{"source": "https://example.com/a", "split": "maybe"}',
      'application/json',
      400,
      'VALIDATION_ERROR',
    ],
    ['a repeated form field', 'source=a&source=b', 'application/x-www-form-urlencoded', 400, 'VALIDATION_ERROR'],
    ['a text body', 'https://example.com/a', 'text/plain', 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ])('answers %s with a clear error', async (_case, body, type, status, code) => {
    const response = await post(body, type);
    expect(response.statusCode).toBe(status);
    expect(bodyOf(response).error.code).toBe(code);
  });
});

describe('figures=describe on the submission routes', () => {
  it('is a 400 naming figureModelId where no figure model is configured, and nothing is written', async () => {
    const response = await post(JSON.stringify({ source: 'https://example.com/report.pdf', figures: 'describe' }));
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error).toMatchObject({ code: 'VALIDATION_ERROR', details: [{ field: 'figures' }] });
    expect(bodyOf(response).error.message).toContain('figureModelId');
    expect(aws.ddbMock.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('is taken where the deployment configures a model', async () => {
    const configured = makeProcessHandler(() =>
      apiTestDeps(aws, { FIGURE_MODEL_ID: 'anthropic.claude-3-haiku-20240307-v1:0' }),
    );
    const response = await configured(
      apiEvent({
        path: '/documents/async/process',
        body: JSON.stringify({ source: 'https://example.com/report.pdf', figures: 'describe' }),
        headers: { 'content-type': 'application/json' },
      }),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(202);
    expect(row().options).toMatchObject({ figures: 'describe' });
  });
});
