import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeUploadHandler } from '../../lambdas/api/upload.js';
import { TASK_ID } from '../support/fixtures.js';
import {
  apiEvent,
  apiTestDeps,
  bodyOf,
  LARGE_QUEUE_URL,
  lambdaContext,
  mockedAws,
  multipart,
  QUEUE_URL,
} from '../support/api.js';

const aws = mockedAws();
const handler = makeUploadHandler(() => apiTestDeps(aws));

const upload = (parts: Parameters<typeof multipart>[0], headers: Record<string, string> = {}) => {
  const { body, contentType } = multipart(parts);
  return handler(apiEvent({ body, headers: { 'Content-Type': contentType, ...headers } }), lambdaContext());
};

const conditionFailed = () => new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });

beforeEach(() => {
  aws.ddbMock.reset();
  aws.s3Mock.reset();
  aws.sqsMock.reset();
  aws.ddbMock.on(PutCommand).resolves({});
  aws.s3Mock.on(PutObjectCommand).resolves({});
  aws.sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
});

describe('POST /documents/async/upload', () => {
  it('takes callback_url and callback_events as form fields and keeps them with the task', async () => {
    const response = await upload([
      { name: 'file', value: 'hello', filename: 'memo.txt', contentType: 'text/plain' },
      { name: 'callback_url', value: 'https://hooks.example.com/in' },
      { name: 'callback_events', value: 'task.succeeded' },
    ]);
    expect(response.statusCode).toBe(202);
    const item = aws.ddbMock.commandCalls(PutCommand).at(-1)?.args[0].input.Item as Record<string, unknown>;
    expect(item.callback).toEqual({ url: 'https://hooks.example.com/in', events: ['task.succeeded'] });
  });

  it('stores the file, writes the task row and queues it', async () => {
    const response = await upload([
      { name: 'file', value: 'hello', filename: 'memo.txt', contentType: 'text/plain' },
      { name: 'split', value: 'True' },
      { name: 'chunk_size', value: '500' },
    ]);
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toEqual({
      task_id: TASK_ID,
      status: 'PENDING',
      message: 'Document processing task submitted',
    });

    const [put] = aws.s3Mock.commandCalls(PutObjectCommand);
    expect(put?.args[0].input).toMatchObject({
      Bucket: 'docs-bucket',
      Key: `direct/${TASK_ID}/input`,
      ContentType: 'text/plain',
    });
    expect(Buffer.from(put?.args[0].input.Body as Uint8Array).toString()).toBe('hello');

    const [row] = aws.ddbMock.commandCalls(PutCommand);
    expect(row?.args[0].input).toMatchObject({
      TableName: 'tasks',
      ConditionExpression: 'attribute_not_exists(#pk)',
      Item: {
        pk: TASK_ID,
        task_id: TASK_ID,
        status: 'PENDING',
        stage: 'queued',
        progress: 0,
        attempts: 1,
        queue: 'standard',
        owner: 'anonymous',
        owner_status: 'anonymous#PENDING',
        options: { split: true, chunk_size: 500, chunk_overlap: 200 },
        source: { type: 'upload', filename: 'memo.txt', size_bytes: 5, content_type: 'text/plain' },
        input: { kind: 's3', bucket: 'docs-bucket', key: `direct/${TASK_ID}/input` },
      },
    });
    expect(row?.args[0].input.Item?.ttl).toEqual(expect.any(Number));

    const [sent] = aws.sqsMock.commandCalls(SendMessageCommand);
    expect(sent?.args[0].input).toEqual({
      QueueUrl: QUEUE_URL,
      MessageBody: JSON.stringify({ v: 1, task_id: TASK_ID, attempt: 1 }),
    });
  });

  it('sends inputs above the threshold to the large queue', async () => {
    await upload([{ name: 'file', value: Buffer.alloc(2000, 'a'), filename: 'big.txt' }]);
    expect(aws.sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input.QueueUrl).toBe(LARGE_QUEUE_URL);
  });

  it('refuses a file above the direct-upload limit with a pointer to upload-url', async () => {
    const response = await upload([{ name: 'file', value: Buffer.alloc(5000, 'a'), filename: 'huge.txt' }]);
    expect(response.statusCode).toBe(413);
    expect(bodyOf(response).error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(bodyOf(response).error.message).toContain('/documents/async/upload-url');
    expect(aws.s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it.each([
    ['no file', [{ name: 'split', value: 'true' }], 'file: required'],
    [
      'two files',
      [
        { name: 'file', value: 'a', filename: 'a.txt' },
        { name: 'file', value: 'b', filename: 'b.txt' },
      ],
      'more than once',
    ],
    [
      'an unknown field',
      [
        { name: 'file', value: 'a', filename: 'a.txt' },
        { name: 'colour', value: 'red' },
      ],
      'colour',
    ],
    [
      'a bad option',
      [
        { name: 'file', value: 'a', filename: 'a.txt' },
        { name: 'chunk_size', value: 'big' },
      ],
      'chunk_size',
    ],
    [
      'overlap not below size',
      [
        { name: 'file', value: 'a', filename: 'a.txt' },
        { name: 'chunk_size', value: '100' },
        { name: 'chunk_overlap', value: '100' },
      ],
      'chunk_overlap',
    ],
  ])('answers 400 VALIDATION_ERROR for %s', async (_case, parts, mention) => {
    const response = await upload(parts);
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error.code).toBe('VALIDATION_ERROR');
    expect(bodyOf(response).error.message).toContain(mention);
    expect(aws.ddbMock.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('answers 415 for a body that is not multipart', async () => {
    const response = await handler(
      apiEvent({ body: '{"file":"x"}', headers: { 'content-type': 'application/json' } }),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(415);
    expect(bodyOf(response).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers a clear 4xx for a broken multipart body', async () => {
    const response = await handler(
      apiEvent({
        body: Buffer.from('--x\r\nnonsense'),
        headers: { 'content-type': 'multipart/form-data; boundary=x' },
      }),
      lambdaContext(),
    );
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.statusCode).toBeLessThan(500);
    expect(bodyOf(response).error.code).toMatch(/VALIDATION_ERROR|UNSUPPORTED_MEDIA_TYPE/);
  });

  it('replays an Idempotency-Key with the same request: 200, same task, nothing queued', async () => {
    const first = await upload([{ name: 'file', value: 'hello', filename: 'memo.txt' }], {
      'Idempotency-Key': 'key-1',
    });
    expect(first.statusCode).toBe(202);
    const [claim] = aws.ddbMock
      .commandCalls(PutCommand)
      .filter((call) => String(call.args[0].input.Item?.pk).startsWith('idem#'));
    expect(claim?.args[0].input).toMatchObject({
      Item: { pk: 'idem#anonymous#key-1', target_task_id: TASK_ID },
      ConditionExpression: 'attribute_not_exists(#pk) OR #ttl < :now',
    });
    const fingerprint = claim?.args[0].input.Item?.fingerprint as string;

    aws.ddbMock.reset();
    aws.sqsMock.resetHistory();
    aws.s3Mock.resetHistory();
    aws.ddbMock.on(PutCommand).rejects(conditionFailed());
    aws.ddbMock
      .on(GetCommand, { Key: { pk: 'idem#anonymous#key-1' } })
      .resolves({ Item: { fingerprint, target_task_id: TASK_ID } })
      .on(GetCommand, { Key: { pk: TASK_ID } })
      .resolves({ Item: { pk: TASK_ID, task_id: TASK_ID, status: 'STARTED', expires_at: '2099-01-01T00:00:00Z' } });
    const again = await upload([{ name: 'file', value: 'hello', filename: 'memo.txt' }], {
      'Idempotency-Key': 'key-1',
    });
    expect(again.statusCode).toBe(200);
    expect(bodyOf(again)).toMatchObject({ task_id: TASK_ID, status: 'STARTED' });
    expect(aws.sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(aws.s3Mock.commandCalls(DeleteObjectCommand)[0]?.args[0].input.Key).toBe(`direct/${TASK_ID}/input`);
  });

  it('answers 409 IDEMPOTENCY_CONFLICT when the client used the key for another request', async () => {
    aws.ddbMock.on(PutCommand).rejects(conditionFailed());
    aws.ddbMock
      .on(GetCommand, { Key: { pk: 'idem#client-7#key-1' } })
      .resolves({ Item: { fingerprint: 'something else', target_task_id: 'other-task' } })
      .on(GetCommand, { Key: { pk: 'other-task' } })
      .resolves({
        Item: { pk: 'other-task', task_id: 'other-task', status: 'PENDING', expires_at: '2099-01-01T00:00:00Z' },
      });
    const { body, contentType } = multipart([{ name: 'file', value: 'hello', filename: 'memo.txt' }]);
    const response = await handler(
      apiEvent({ body, headers: { 'content-type': contentType, 'idempotency-key': 'key-1' }, apiKeyId: 'client-7' }),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(409);
    expect(bodyOf(response).error.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(aws.sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('rejects a malformed Idempotency-Key', async () => {
    const response = await upload([{ name: 'file', value: 'x', filename: 'a.txt' }], {
      'Idempotency-Key': 'x'.repeat(129),
    });
    expect(response.statusCode).toBe(400);
  });

  it('removes the row and the object when the task cannot be queued, and says nothing internal', async () => {
    aws.sqsMock.on(SendMessageCommand).rejects(new Error('sqs endpoint https://internal.example exploded'));
    aws.ddbMock.on(DeleteCommand).resolves({});
    aws.s3Mock.on(DeleteObjectCommand).resolves({});
    const response = await upload([{ name: 'file', value: 'hello', filename: 'memo.txt' }]);
    expect(response.statusCode).toBe(500);
    expect(bodyOf(response)).toEqual({
      error: { code: 'INTERNAL_ERROR', message: 'Internal error. Quote request id req-123 when reporting it.' },
    });
    expect(aws.ddbMock.commandCalls(DeleteCommand)[0]?.args[0].input).toMatchObject({ Key: { pk: TASK_ID } });
    expect(aws.s3Mock.commandCalls(DeleteObjectCommand)[0]?.args[0].input.Key).toBe(`direct/${TASK_ID}/input`);
  });

  it('keeps path separators and control characters out of the stored file name', async () => {
    await upload([{ name: 'file', value: 'x', filename: '../../etc/pass\u0007wd.txt' }]);
    const item = aws.ddbMock.commandCalls(PutCommand)[0]?.args[0].input.Item as { source: { filename: string } };
    expect(item.source.filename).toBe('passwd.txt');
    expect(aws.s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input.Key).toBe(`direct/${TASK_ID}/input`);
  });
});
