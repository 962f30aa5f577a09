import { GetObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { sdkStreamMixin } from '@smithy/util-stream';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeCancelTaskHandler } from '../../lambdas/api/cancel-task.js';
import { makeGetTaskHandler } from '../../lambdas/api/get-task.js';
import { makeListTasksHandler } from '../../lambdas/api/list-tasks.js';
import { makeRetryTaskHandler } from '../../lambdas/api/retry-task.js';
import type { ProcessingResult } from '../../lambdas/documents/document.js';
import { aTask, TASK_ID } from '../support/fixtures.js';
import { apiEvent, apiTestDeps, bodyOf, lambdaContext, mockedAws, QUEUE_URL } from '../support/api.js';

const aws = mockedAws();
const deps = () => apiTestDeps(aws);
const byId = (id = TASK_ID) => apiEvent({ method: 'GET', pathParameters: { task_id: id } });
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });

const result: ProcessingResult = {
  status: 'success',
  filename: 'memo.txt',
  format: 'text',
  document_count: 1,
  documents: [{ page_content: 'hello', metadata: { source: 'memo.txt', filename: 'memo.txt' } }],
  warnings: [],
  stats: { bytes: 5, characters: 5 },
};
const stream = (text: string) => sdkStreamMixin(Readable.from([Buffer.from(text)]));
const { documents: _documents, ...headline } = result;

beforeEach(() => {
  aws.ddbMock.reset();
  aws.s3Mock.reset();
  aws.sqsMock.reset();
});

describe('GET /documents/async/tasks/{task_id}', () => {
  const getTask = makeGetTaskHandler(deps);

  it('answers 404 TASK_NOT_FOUND for an unknown id', async () => {
    aws.ddbMock.on(GetCommand).resolves({});
    const response = await getTask(byId(), lambdaContext());
    expect(response.statusCode).toBe(404);
    expect(bodyOf(response).error.code).toBe('TASK_NOT_FOUND');
    expect(aws.ddbMock.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: 'tasks',
      Key: { pk: TASK_ID },
      ConsistentRead: true,
    });
  });

  it.each(['not-a-uuid', '../../etc', 'x'.repeat(300)])(
    'answers 404 for the id %s without reading the table',
    async (id) => {
      const response = await getTask(byId(id), lambdaContext());
      expect(response.statusCode).toBe(404);
      expect(aws.ddbMock.commandCalls(GetCommand)).toHaveLength(0);
    },
  );

  it('answers 404 for a task past its retention', async () => {
    aws.ddbMock
      .on(GetCommand)
      .resolves({ Item: { ...aTask({ expires_at: '2020-01-01T00:00:00.000Z' }), pk: TASK_ID } });
    expect((await getTask(byId(), lambdaContext())).statusCode).toBe(404);
  });

  describe('with ?wait=N (a long poll)', () => {
    const waiting = (wait: string) =>
      apiEvent({ method: 'GET', pathParameters: { task_id: TASK_ID }, query: { wait } });
    const running = { Item: { ...aTask({ status: 'STARTED', progress: 10 }), pk: TASK_ID, run_id: 'r' } };
    const done = {
      Item: {
        ...aTask({ status: 'FAILURE', error: { code: 'DOCUMENT_PARSE_ERROR', message: 'bad', retryable: false } }),
        pk: TASK_ID,
      },
    };

    it.each(['21', '-1', '1.5', 'soon'])('refuses wait=%s with a 400 naming the limit', async (wait) => {
      const response = await getTask(waiting(wait), lambdaContext());
      expect(response.statusCode).toBe(400);
      expect(bodyOf(response).error.message).toContain('wait');
      expect(aws.ddbMock.commandCalls(GetCommand)).toHaveLength(0);
    });

    it('answers with the current state after N seconds, in about one read a second', async () => {
      aws.ddbMock.on(GetCommand).resolves(running);
      const body = bodyOf(await getTask(waiting('20'), lambdaContext()));
      expect(body).toMatchObject({ status: 'STARTED', progress: 10 });
      // 1 + pauses of 0.1, 0.2, 0.4, 0.8 s, then 1 s each until 20 s have passed.
      expect(aws.ddbMock.commandCalls(GetCommand)).toHaveLength(24);
    });

    it('answers as soon as the task is final', async () => {
      aws.ddbMock.on(GetCommand).resolvesOnce(running).resolvesOnce(running).resolvesOnce(running).resolves(done);
      const body = bodyOf(await getTask(waiting('20'), lambdaContext()));
      expect(body).toMatchObject({ status: 'FAILURE', error: { code: 'DOCUMENT_PARSE_ERROR' } });
      expect(aws.ddbMock.commandCalls(GetCommand)).toHaveLength(4);
    });

    it('reads once without wait, or with wait=0', async () => {
      aws.ddbMock.on(GetCommand).resolves(running);
      await getTask(waiting('0'), lambdaContext());
      await getTask(byId(), lambdaContext());
      expect(aws.ddbMock.commandCalls(GetCommand)).toHaveLength(2);
    });
  });

  it('shows a running task with progress and stage, and no result', async () => {
    aws.ddbMock.on(GetCommand).resolves({
      Item: { ...aTask({ status: 'STARTED', progress: 42, stage: 'parsing' }), pk: TASK_ID, run_id: 'r' },
    });
    const body = bodyOf(await getTask(byId(), lambdaContext()));
    expect(body).toMatchObject({ task_id: TASK_ID, status: 'STARTED', progress: 42, stage: 'parsing', attempts: 1 });
    expect(body).not.toHaveProperty('result');
    expect(body).not.toHaveProperty('run_id');
    expect(body).not.toHaveProperty('input');
  });

  it('inlines a small result', async () => {
    const json = JSON.stringify(result);
    aws.ddbMock.on(GetCommand).resolves({
      Item: aTask({
        status: 'SUCCESS',
        progress: 100,
        stage: 'done',
        result: { bucket: 'docs-bucket', key: `results/${TASK_ID}/r.json`, json_bytes: json.length, headline },
      }),
    });
    aws.s3Mock.on(GetObjectCommand).resolves({ Body: stream(json), ContentLength: json.length });
    const body = bodyOf(await getTask(byId(), lambdaContext()));
    expect(body.result).toEqual(result);
    expect(aws.s3Mock.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'docs-bucket',
      Key: `results/${TASK_ID}/r.json`,
    });
  });

  it('links a quote-heavy result that fits the limit as stored but not once escaped in the response', async () => {
    const quoted: ProcessingResult = {
      ...result,
      documents: [{ page_content: '"'.repeat(700), metadata: { source: 'memo.txt', filename: 'memo.txt' } }],
    };
    const json = JSON.stringify(quoted);
    expect(json.length).toBeLessThan(2048); // the configured inline limit
    aws.ddbMock.on(GetCommand).resolves({
      Item: aTask({
        status: 'SUCCESS',
        result: { bucket: 'docs-bucket', key: `results/${TASK_ID}/r.json`, json_bytes: json.length, headline },
      }),
    });
    aws.s3Mock.on(GetObjectCommand).resolves({ Body: stream(json), ContentLength: json.length });
    const response = await getTask(byId(), lambdaContext());
    expect(bodyOf(response).result.result_url).toEqual(expect.any(String));
    expect(bodyOf(response).result).not.toHaveProperty('documents');
    expect(Buffer.byteLength(JSON.stringify(response))).toBeLessThan(4096);
  });

  it("answers 500 naming nothing when a finished task's result cannot be read (never the client's 4xx)", async () => {
    aws.ddbMock.on(GetCommand).resolves({
      Item: aTask({
        status: 'SUCCESS',
        result: { bucket: 'docs-bucket', key: `results/${TASK_ID}/r.json`, json_bytes: 100, headline },
      }),
    });
    aws.s3Mock.on(GetObjectCommand).rejects(Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey' }));
    const response = await getTask(byId(), lambdaContext());
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('results/');
    expect(bodyOf(response).error.code).toBe('INTERNAL_ERROR');
  });

  it('links a result above the inline limit instead of reading it', async () => {
    aws.ddbMock.on(GetCommand).resolves({
      Item: aTask({
        status: 'SUCCESS',
        result: { bucket: 'docs-bucket', key: `results/${TASK_ID}/r.json`, json_bytes: 10_000_000, headline },
      }),
    });
    const body = bodyOf(await getTask(byId(), lambdaContext()));
    expect(body.result).toMatchObject({ status: 'success', document_count: 1, filename: 'memo.txt' });
    expect(body.result).not.toHaveProperty('documents');
    expect(new URL(body.result.result_url as string).pathname).toBe(`/results/${TASK_ID}/r.json`);
    expect(aws.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  it('shows the error of a failed task', async () => {
    const error = { code: 'PDF_PASSWORD_PROTECTED', message: 'encrypted', retryable: false };
    aws.ddbMock.on(GetCommand).resolves({ Item: aTask({ status: 'FAILURE', error: error as never }) });
    expect(bodyOf(await getTask(byId(), lambdaContext())).error).toEqual(error);
  });
});

describe('GET /documents/async/tasks', () => {
  const list = makeListTasksHandler(deps);
  const query = (params: Record<string, string>) => list(apiEvent({ method: 'GET', query: params }), lambdaContext());

  it("queries the caller's status index newest first", async () => {
    aws.ddbMock.on(QueryCommand).resolves({ Items: [aTask({ status: 'FAILURE' })], LastEvaluatedKey: { pk: 'x' } });
    const response = await query({ status: 'FAILURE', limit: '5' });
    expect(response.statusCode).toBe(200);
    expect(aws.ddbMock.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      IndexName: 'by_owner_status',
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'owner_status' },
      ExpressionAttributeValues: { ':pk': 'anonymous#FAILURE' },
      ScanIndexForward: false,
      Limit: 5,
    });
    const body = bodyOf(response);
    expect(body.tasks).toHaveLength(1);
    expect(body.next_token).toEqual(expect.any(String));
  });

  it("lists the caller's tasks through its owner index and follows next_token", async () => {
    const token = Buffer.from(JSON.stringify({ pk: 'a', owner: 'anonymous', created_at: 'x' })).toString('base64url');
    aws.ddbMock.on(QueryCommand).resolves({ Items: [] });
    const body = bodyOf(await query({ next_token: token }));
    expect(body).toEqual({ tasks: [] });
    expect(aws.ddbMock.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      IndexName: 'by_owner',
      ExpressionAttributeValues: { ':pk': 'anonymous' },
      ExclusiveStartKey: { pk: 'a', owner: 'anonymous', created_at: 'x' },
      Limit: 20,
    });
  });

  it("answers 400 for another caller's next_token, without asking DynamoDB", async () => {
    const token = Buffer.from(JSON.stringify({ pk: 'a', owner: 'key-b', created_at: 'x' })).toString('base64url');
    const response = await list(
      apiEvent({ method: 'GET', query: { next_token: token }, apiKeyId: 'key-a' }),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(400);
    expect(aws.ddbMock.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it.each<Record<string, string>>([
    { status: 'DONE' },
    { limit: '0' },
    { limit: '101' },
    { limit: 'ten' },
    { sort: 'asc' },
    { next_token: 'garbage!' },
  ])('answers 400 for %j', async (params) => {
    aws.ddbMock.on(QueryCommand).resolves({ Items: [] });
    const response = await query(params);
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error.code).toBe('VALIDATION_ERROR');
  });
});

describe('POST /documents/async/tasks/{task_id}/cancel', () => {
  const cancel = makeCancelTaskHandler(deps);

  it('revokes a pending task with a conditional update', async () => {
    aws.ddbMock.on(GetCommand).resolves({ Item: aTask() });
    aws.ddbMock.on(UpdateCommand).resolves({ Attributes: aTask({ status: 'REVOKED' }) });
    const response = await cancel(byId(), lambdaContext());
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response).status).toBe('REVOKED');
    const input = aws.ddbMock.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.ConditionExpression).toBe('attribute_exists(#pk) AND #status IN (:from0, :from1, :from2)');
    expect(input?.ExpressionAttributeValues).toMatchObject({
      ':to': 'REVOKED',
      ':from0': 'AWAITING_UPLOAD',
      ':from1': 'PENDING',
      ':from2': 'STARTED',
    });
  });

  it('answers 409 TASK_NOT_CANCELLABLE when the task already finished (a lost race is not a 500)', async () => {
    aws.ddbMock.on(GetCommand).resolves({ Item: aTask({ status: 'SUCCESS' }) });
    aws.ddbMock.on(UpdateCommand).rejects(conditionFailed());
    const response = await cancel(byId(), lambdaContext());
    expect(response.statusCode).toBe(409);
    expect(bodyOf(response).error.code).toBe('TASK_NOT_CANCELLABLE');
  });

  it('answers 404 for an unknown task', async () => {
    aws.ddbMock.on(GetCommand).resolves({});
    expect((await cancel(byId(), lambdaContext())).statusCode).toBe(404);
  });
});

describe('POST /documents/async/tasks/{task_id}/retry', () => {
  const retry = makeRetryTaskHandler(deps);

  it('puts a failed task back on its queue as the next attempt', async () => {
    aws.ddbMock.on(GetCommand).resolves({ Item: aTask({ status: 'FAILURE' }) });
    aws.ddbMock.on(UpdateCommand).resolves({ Attributes: aTask({ status: 'PENDING', attempts: 2 }) });
    aws.sqsMock.on(SendMessageCommand).resolves({});
    const response = await retry(byId(), lambdaContext());
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toMatchObject({ status: 'PENDING', attempts: 2 });
    const input = aws.ddbMock.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.ConditionExpression).toBe(
      'attribute_exists(#pk) AND #status IN (:from0, :from1) AND #attempts = :attempt',
    );
    expect(input?.ExpressionAttributeValues).toMatchObject({ ':from0': 'FAILURE', ':from1': 'REVOKED', ':attempt': 1 });
    expect(input?.UpdateExpression).toContain('REMOVE');
    expect(aws.sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: QUEUE_URL,
      MessageBody: JSON.stringify({ v: 1, task_id: TASK_ID, attempt: 2 }),
    });
  });

  it('answers 409 TASK_NOT_RETRYABLE for a task that has not failed', async () => {
    aws.ddbMock.on(GetCommand).resolves({ Item: aTask({ status: 'STARTED' }) });
    aws.ddbMock.on(UpdateCommand).rejects(conditionFailed());
    const response = await retry(byId(), lambdaContext());
    expect(response.statusCode).toBe(409);
    expect(bodyOf(response).error.code).toBe('TASK_NOT_RETRYABLE');
    expect(aws.sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});

describe('a task belongs to the API key that created it', () => {
  const asKey = (apiKeyId: string, method = 'GET') =>
    apiEvent({ method, pathParameters: { task_id: TASK_ID }, apiKeyId });

  it.each([
    ['get', makeGetTaskHandler],
    ['cancel', makeCancelTaskHandler],
    ['retry', makeRetryTaskHandler],
  ] as const)("answers another key's %s with 404 TASK_NOT_FOUND and changes nothing", async (_name, make) => {
    aws.ddbMock.on(GetCommand).resolves({ Item: aTask({ owner: 'key-a', status: 'FAILURE' }) });
    const response = await make(deps)(asKey('key-b', 'POST'), lambdaContext());
    expect(response.statusCode).toBe(404);
    expect(bodyOf(response).error.code).toBe('TASK_NOT_FOUND');
    expect(aws.ddbMock.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(aws.sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('lets the owning key read it', async () => {
    aws.ddbMock.on(GetCommand).resolves({ Item: aTask({ owner: 'key-a' }) });
    expect((await makeGetTaskHandler(deps)(asKey('key-a'), lambdaContext())).statusCode).toBe(200);
  });
});
