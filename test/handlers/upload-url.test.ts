import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeUploadUrlHandler } from '../../lambdas/api/upload-url.js';
import { NOW, TASK_ID } from '../support/fixtures.js';
import { apiEvent, apiTestDeps, bodyOf, lambdaContext, mockedAws } from '../support/api.js';

const aws = mockedAws();
const handler = makeUploadUrlHandler(() => apiTestDeps(aws));
const post = (body: unknown) =>
  handler(
    apiEvent({
      path: '/documents/async/upload-url',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    }),
    lambdaContext(),
  );

beforeEach(() => {
  aws.ddbMock.reset();
  aws.sqsMock.reset();
  aws.ddbMock.on(PutCommand).resolves({});
});

describe('POST /documents/async/upload-url', () => {
  it('creates an AWAITING_UPLOAD task and a presigned PUT with the length signed', async () => {
    const response = await post({
      filename: 'big.pdf',
      content_type: 'application/pdf',
      size_bytes: 123456,
      split: true,
    });
    expect(response.statusCode).toBe(201);
    const body = bodyOf(response);
    expect(body).toMatchObject({
      task_id: TASK_ID,
      status: 'AWAITING_UPLOAD',
      upload: {
        method: 'PUT',
        headers: { 'content-type': 'application/pdf' },
        expires_at: new Date(NOW.getTime() + 900_000).toISOString(),
      },
    });
    const url = new URL(body.upload.url as string);
    expect(url.hostname).toContain('docs-bucket');
    expect(url.pathname).toBe(`/uploads/${TASK_ID}/input`);
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(
      expect.arrayContaining(['content-length', 'content-type']),
    );
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    // A checksum of the empty body signed into the URL would make S3 refuse the real upload.
    expect([...url.searchParams.keys()].filter((key) => key.toLowerCase().includes('checksum'))).toEqual([]);
    expect(aws.ddbMock.commandCalls(PutCommand)[0]?.args[0].input.Item).toMatchObject({
      status: 'AWAITING_UPLOAD',
      source: { type: 'presigned', filename: 'big.pdf', size_bytes: 123456, content_type: 'application/pdf' },
      input: { kind: 's3', bucket: 'docs-bucket', key: `uploads/${TASK_ID}/input` },
      upload_expires_at: new Date(NOW.getTime() + 900_000).toISOString(),
      queue: 'large',
    });
    expect(aws.sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it.each([
    [{ content_type: 'application/pdf', size_bytes: 1 }, 'filename'],
    [{ filename: 'a.pdf' }, 'size_bytes'],
    [{ filename: 'a.pdf', size_bytes: 11 * 1024 * 1024 }, 'size_bytes'],
    [{ filename: 'a.pdf', size_bytes: -1 }, 'size_bytes'],
    [{ filename: 'a.pdf', size_bytes: 10, content_type: 'not a type' }, 'content_type'],
    [{ filename: 'a.pdf', size_bytes: 10, chunk_overlap: 5000 }, 'chunk_overlap'],
  ])('refuses %j naming %s', async (body, field) => {
    const response = await post(body);
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error.message).toContain(field);
  });
});
