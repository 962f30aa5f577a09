import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDeliveryStore } from '../../lambdas/adapters/dynamo-delivery-store.js';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import { SqsDeliveryQueue } from '../../lambdas/adapters/sqs-delivery-queue.js';
import { buildDeliveriesApiDeps, type DeliveriesApiDeps } from '../../lambdas/api/deliveries-deps.js';
import { makeListDeliveriesHandler } from '../../lambdas/api/list-deliveries.js';
import { makeRedeliverHandler } from '../../lambdas/api/redeliver.js';
import { makeWebhookDeliveriesHandler } from '../../lambdas/consumers/webhook-deliveries.js';
import type { Delivery, DeliveryJob } from '../../lambdas/core/delivery.js';
import type { PostOutcome, TaskStore } from '../../lambdas/core/ports.js';
import type { Task } from '../../lambdas/core/task.js';
import { parseSigningKeys } from '../../lambdas/core/webhook-signing.js';
import type { DeliveryDeps } from '../../lambdas/core/webhooks.js';
import { apiEvent, bodyOf, lambdaContext, mockedAws } from '../support/api.js';
import { startTestTable, type TestTable } from '../support/dynalite.js';
import { aTask, TASK_ID } from '../support/fixtures.js';
import { MemoryBlobStore } from '../support/memory.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const CALLBACK = 'https://hooks.example.com/docproc';
const EVENT_AT = new Date('2026-11-27T12:00:00.000Z');

let table: TestTable;
let store: DynamoTaskStore;
let deliveries: DynamoDeliveryStore;
let now: Date;
let queued: Array<{ job: DeliveryJob; delaySeconds: number }>;
let posts: Array<{ url: string; headers: Record<string, string>; body: string }>;
let answers: PostOutcome[];
let counted: { delivered: number; failed: number };

const deps = (): DeliveryDeps => ({
  store,
  deliveries,
  queue: { send: async (job, delaySeconds) => void queued.push({ job, delaySeconds }) },
  blobs: new MemoryBlobStore(),
  clock: { now: () => now },
  post: async (url, request) => {
    posts.push({ url, ...request });
    return answers.shift() ?? { status_code: 200, duration_ms: 12 };
  },
  signingKeys: async () => parseSigningKeys(SECRET),
  metrics: { delivered: () => void counted.delivered++, failed: () => void counted.failed++ },
  retry: { scale: 1, random: () => 0 },
  resultUrlTtlSeconds: 3600,
});
const consumer = makeWebhookDeliveriesHandler(deps);

const sqs = (...bodies: unknown[]): SQSEvent =>
  ({
    Records: bodies.map((body, index) => ({
      messageId: `m${index}`,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })),
  }) as SQSEvent;

/** A task with a callback, stored; and the announcement of one of its events. */
const announced = async (overrides: Partial<Task> = {}, type: DeliveryJob['event']['type'] = 'task.failed') => {
  const task = aTask({
    task_id: randomUUID(),
    status: 'FAILURE',
    expires_at: new Date(EVENT_AT.getTime() + 7 * 86400_000).toISOString(),
    callback: { url: CALLBACK, events: ['task.succeeded', 'task.failed', 'task.revoked'] },
    ...overrides,
  });
  await store.create(task);
  const job: DeliveryJob = {
    v: 1,
    task_id: task.task_id,
    event: { id: randomUUID(), type, occurred_at: EVENT_AT.toISOString() },
    task: { task_id: task.task_id, status: task.status, attempts: task.attempts },
    attempt: 0,
  };
  return { task, job, ref: { task_id: task.task_id, delivery_id: job.event.id } };
};

beforeAll(async () => {
  table = await startTestTable();
  store = new DynamoTaskStore(table.client, table.tableName);
  deliveries = new DynamoDeliveryStore(table.client, table.deliveriesTableName, () => now);
});
afterAll(async () => table.close());
beforeEach(() => {
  now = new Date(EVENT_AT.getTime() + 200);
  queued = [];
  posts = [];
  answers = [];
  counted = { delivered: 0, failed: 0 };
});

describe('webhook consumer', () => {
  it('POSTs the event signed as Standard Webhooks asks, and logs the delivery', async () => {
    const { job, ref } = await announced();
    const response = await consumer(sqs(job), lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(posts).toHaveLength(1);
    const [post] = posts;
    expect(post!.url).toBe(CALLBACK);
    const timestamp = Math.floor(now.getTime() / 1000);
    expect(post!.headers).toMatchObject({
      'content-type': 'application/json',
      'webhook-id': `msg_${job.event.id}`,
      'webhook-timestamp': String(timestamp),
    });
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key)
      .update(`msg_${job.event.id}.${timestamp}.${post!.body}`)
      .digest('base64');
    expect(post!.headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(JSON.parse(post!.body)).toEqual({ type: 'task.failed', timestamp: job.event.occurred_at, data: job.task });
    expect(await deliveries.get(ref)).toMatchObject({
      status: 'delivered',
      event_type: 'task.failed',
      webhook_id: `msg_${job.event.id}`,
      attempts: [{ at: now.toISOString(), status_code: 200, duration_ms: 12 }],
    });
    expect(counted).toEqual({ delivered: 1, failed: 0 });
    expect(queued).toEqual([]);
  });

  it('links the result of a success, presigned at the attempt', async () => {
    const headline = {
      status: 'success',
      filename: 'memo.txt',
      format: 'text',
      document_count: 1,
      warnings: [],
      stats: { bytes: 5, characters: 5 },
    };
    const { job } = await announced(
      {
        status: 'SUCCESS',
        result: { bucket: 'docs', key: 'results/x/result.json', json_bytes: 100, headline: headline as never },
      },
      'task.succeeded',
    );
    await consumer(sqs(job), lambdaContext());
    const { data } = JSON.parse(posts[0]!.body);
    expect(data.result).toEqual({
      ...headline,
      result_url: 'https://docs.s3.amazonaws.com/results/x/result.json?signed',
      result_url_expires_at: new Date(now.getTime() + 3600_000).toISOString(),
    });
    expect(data.result).not.toHaveProperty('documents');
  });

  it('on a non-2xx, queues the next attempt 5 s on, logs the attempt, and leaves the delivery pending', async () => {
    answers = [{ status_code: 503, duration_ms: 40 }];
    const { job, ref } = await announced();
    await consumer(sqs(job), lambdaContext());
    const retryAt = new Date(now.getTime() + 5000).toISOString();
    expect(queued).toEqual([{ job: { ...job, attempt: 1, not_before: retryAt }, delaySeconds: 5 }]);
    expect(await deliveries.get(ref)).toMatchObject({
      status: 'pending',
      next_attempt_at: retryAt,
      attempts: [{ status_code: 503, duration_ms: 40 }],
    });
    expect(counted).toEqual({ delivered: 0, failed: 0 });

    // The retry, when it comes: the same webhook-id, a second attempt in the log.
    now = new Date(retryAt);
    await consumer(sqs(queued[0]!.job), lambdaContext());
    expect(posts.map((post) => post.headers['webhook-id'])).toEqual([`msg_${job.event.id}`, `msg_${job.event.id}`]);
    expect((await deliveries.get(ref))?.attempts.map((attempt) => attempt.status_code)).toEqual([503, 200]);
    expect((await deliveries.get(ref))?.status).toBe('delivered');
  });

  it('logs a connection failure as its error, and retries it too', async () => {
    answers = [{ error: 'No answer within 10 s.', duration_ms: 10_000 }];
    const { job, ref } = await announced();
    await consumer(sqs(job), lambdaContext());
    expect((await deliveries.get(ref))?.attempts).toEqual([
      { at: now.toISOString(), error: 'No answer within 10 s.', duration_ms: 10_000 },
    ]);
    expect(queued).toHaveLength(1);
  });

  it('puts back a retry that is not due yet, without reading anything or sending', async () => {
    const { job } = await announced();
    const notBefore = new Date(now.getTime() + 2 * 3600_000).toISOString();
    const later = { ...job, attempt: 7, not_before: notBefore };
    await consumer(sqs(later), lambdaContext());
    expect(queued).toEqual([{ job: later, delaySeconds: 900 }]);
    expect(posts).toEqual([]);
  });

  it('gives up when the next attempt would be more than 24 h after the event: failed, counted, nothing queued', async () => {
    answers = [{ status_code: 500, duration_ms: 5 }];
    const { job, ref } = await announced();
    await deliveries.open({ ...(await openedDelivery(job)), scheduled_attempts: 12 });
    now = new Date(EVENT_AT.getTime() + 23 * 3600_000);
    await consumer(sqs({ ...job, attempt: 12 }), lambdaContext());
    expect(queued).toEqual([]);
    expect(await deliveries.get(ref)).toMatchObject({ status: 'failed', scheduled_attempts: 13 });
    expect(counted).toEqual({ delivered: 0, failed: 1 });
  });

  it('drops a duplicate announcement of a delivered event, and a scheduled attempt already made', async () => {
    answers = [{ status_code: 503, duration_ms: 1 }];
    const { job } = await announced();
    await consumer(sqs(job), lambdaContext()); // attempt 0 fails, attempt 1 queued
    await consumer(sqs(job), lambdaContext()); // the announcement again: attempt 0 was made
    expect(posts).toHaveLength(1);
    now = new Date(queued[0]!.job.not_before!);
    await consumer(sqs(queued[0]!.job), lambdaContext()); // attempt 1 succeeds
    await consumer(sqs(queued[0]!.job), lambdaContext()); // and is delivered twice by SQS
    expect(posts).toHaveLength(2);
  });

  it('sends nothing for a task that asked for no callback, or is gone', async () => {
    const { job: noCallback } = await announced({ callback: undefined });
    const gone = { ...noCallback, task_id: randomUUID() };
    const expired = await announced({ expires_at: new Date(now.getTime() - 1).toISOString() });
    const response = await consumer(sqs(noCallback, gone, expired.job), lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(posts).toEqual([]);
  });

  it('redelivers once, with the same webhook-id, whatever the delivery became', async () => {
    answers = [{ status_code: 500, duration_ms: 1 }];
    const { job, ref } = await announced();
    await deliveries.open({ ...(await openedDelivery(job)), status: 'failed', scheduled_attempts: 18 });
    await consumer(sqs({ ...job, redelivery: true }), lambdaContext());
    expect((await deliveries.get(ref))?.status).toBe('failed');
    await consumer(sqs({ ...job, redelivery: true }), lambdaContext());
    expect(posts.map((post) => post.headers['webhook-id'])).toEqual([`msg_${job.event.id}`, `msg_${job.event.id}`]);
    expect(await deliveries.get(ref)).toMatchObject({ status: 'delivered', scheduled_attempts: 18 });
    expect((await deliveries.get(ref))?.attempts.map((attempt) => attempt.status_code)).toEqual([500, 200]);
    expect(queued).toEqual([]);
  });

  it('drops what is not a delivery message, and fails the record when the table cannot be read (SQS retries)', async () => {
    const { job } = await announced();
    const failing = makeWebhookDeliveriesHandler(() => ({
      ...deps(),
      store: { get: async () => Promise.reject(new Error('ProvisionedThroughputExceeded')) } as unknown as TaskStore,
    }));
    const response = await failing(sqs('not json', { v: 2 }, job), lambdaContext());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    expect(posts).toEqual([]);
  });
});

describe('the delivery log (DynamoDB)', () => {
  const attempt = { at: EVENT_AT.toISOString(), status_code: 503, duration_ms: 1 };

  it("records a scheduled attempt only while pending and no later one was: a duplicate's attempt is superseded", async () => {
    const { job, ref } = await announced();
    await deliveries.open(await openedDelivery(job));
    expect(await deliveries.recordScheduled(ref, 0, attempt, { status: 'pending', nextAttemptAt: 'x' })).toBe(true);
    expect(await deliveries.recordScheduled(ref, 0, attempt, { status: 'delivered' })).toBe(false);
    expect(await deliveries.recordScheduled(ref, 1, attempt, { status: 'delivered' })).toBe(true);
    expect(await deliveries.recordScheduled(ref, 2, attempt, { status: 'pending' })).toBe(false);
    expect(await deliveries.get(ref)).toMatchObject({ status: 'delivered', scheduled_attempts: 2 });
    expect((await deliveries.get(ref))?.attempts).toHaveLength(2);
    expect(await deliveries.get(ref)).not.toHaveProperty('next_attempt_at');
  });

  it('opens a delivery once: a second announcement finds the first', async () => {
    const { job, ref } = await announced();
    const first = await openedDelivery(job);
    await deliveries.open(first);
    await deliveries.recordScheduled(ref, 0, attempt, { status: 'pending' });
    expect((await deliveries.open({ ...first, created_at: 'later' })).attempts).toHaveLength(1);
  });
});

/** The log entry the consumer opens for an announcement (to start a test from a later state). */
const openedDelivery = async (job: DeliveryJob): Promise<Delivery> => ({
  task_id: job.task_id,
  delivery_id: job.event.id,
  event_type: job.event.type,
  webhook_id: `msg_${job.event.id}`,
  status: 'pending',
  attempts: [],
  scheduled_attempts: 0,
  created_at: EVENT_AT.toISOString(),
  updated_at: EVENT_AT.toISOString(),
  event: job.event,
  task: job.task,
  expires_at: (await store.get(job.task_id))!.expires_at,
});

describe('delivery-log routes', () => {
  const aws = mockedAws();
  const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/webhook-deliveries';
  const DELIVERY_ID = '5d3c2b1a-0f9e-4d8c-b7a6-958473625140';
  const routeDeps = (): DeliveriesApiDeps => {
    const built = buildDeliveriesApiDeps({
      TABLE_NAME: 'tasks',
      DELIVERIES_TABLE_NAME: 'deliveries',
      WEBHOOK_QUEUE_URL: QUEUE_URL,
    });
    return {
      ...built,
      store: new DynamoTaskStore(aws.dynamo, 'tasks'),
      deliveries: new DynamoDeliveryStore(aws.dynamo, 'deliveries'),
      queue: new SqsDeliveryQueue(aws.sqs, QUEUE_URL),
      clock: { now: () => EVENT_AT },
    };
  };
  const stored: Delivery = {
    task_id: TASK_ID,
    delivery_id: DELIVERY_ID,
    event_type: 'task.succeeded',
    webhook_id: `msg_${DELIVERY_ID}`,
    status: 'pending',
    attempts: [{ at: EVENT_AT.toISOString(), status_code: 503, duration_ms: 20 }],
    scheduled_attempts: 1,
    next_attempt_at: '2026-11-27T12:00:05.000Z',
    created_at: EVENT_AT.toISOString(),
    updated_at: EVENT_AT.toISOString(),
    event: { id: DELIVERY_ID, type: 'task.succeeded', occurred_at: EVENT_AT.toISOString() },
    task: { task_id: TASK_ID, status: 'SUCCESS' },
    expires_at: '2026-12-04T12:00:00.000Z',
  };
  const view = {
    delivery_id: DELIVERY_ID,
    event_type: 'task.succeeded',
    webhook_id: `msg_${DELIVERY_ID}`,
    status: 'pending',
    created_at: EVENT_AT.toISOString(),
    attempts: stored.attempts,
    next_attempt_at: stored.next_attempt_at,
  };
  const request = (method: string, pathParameters: Record<string, string>, apiKeyId = 'key-a') =>
    apiEvent({ method, pathParameters, apiKeyId });

  beforeEach(() => {
    aws.ddbMock.reset();
    aws.sqsMock.reset();
    aws.ddbMock.on(GetCommand, { TableName: 'tasks' }).resolves({ Item: aTask({ owner: 'key-a', status: 'SUCCESS' }) });
  });

  it("lists the task's deliveries with their attempts, from its partition of the log", async () => {
    aws.ddbMock.on(QueryCommand).resolves({ Items: [{ ...stored, ttl: 1 }] });
    const response = await makeListDeliveriesHandler(routeDeps)(request('GET', { task_id: TASK_ID }), lambdaContext());
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual({ deliveries: [view] });
    expect(aws.ddbMock.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'deliveries',
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'task_id' },
      ExpressionAttributeValues: { ':pk': TASK_ID },
    });
  });

  it('queues a redelivery of the same event and answers 202 with the delivery', async () => {
    aws.ddbMock.on(GetCommand, { TableName: 'deliveries' }).resolves({ Item: stored });
    aws.sqsMock.on(SendMessageCommand).resolves({});
    const response = await makeRedeliverHandler(routeDeps)(
      request('POST', { task_id: TASK_ID, delivery_id: DELIVERY_ID }),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toEqual({ ...view, message: 'Redelivery queued' });
    const sent = aws.sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(sent).toMatchObject({ QueueUrl: QUEUE_URL, DelaySeconds: 0 });
    expect(JSON.parse(sent!.MessageBody!)).toEqual({
      v: 1,
      task_id: TASK_ID,
      event: stored.event,
      task: stored.task,
      attempt: 1,
      redelivery: true,
    });
  });

  it('answers 404 DELIVERY_NOT_FOUND for an unknown delivery, or a malformed id, and queues nothing', async () => {
    aws.ddbMock.on(GetCommand, { TableName: 'deliveries' }).resolves({});
    const redeliver = makeRedeliverHandler(routeDeps);
    for (const id of [DELIVERY_ID, 'not-an-id']) {
      const response = await redeliver(request('POST', { task_id: TASK_ID, delivery_id: id }), lambdaContext());
      expect(response.statusCode).toBe(404);
      expect(bodyOf(response).error.code).toBe('DELIVERY_NOT_FOUND');
    }
    expect(aws.sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it.each([
    ['list', makeListDeliveriesHandler, 'GET'],
    ['redeliver', makeRedeliverHandler, 'POST'],
  ] as const)("answers another key's %s with 404 TASK_NOT_FOUND, reading no delivery", async (_name, make, method) => {
    const response = await make(routeDeps)(
      request(method, { task_id: TASK_ID, delivery_id: DELIVERY_ID }, 'key-b'),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(404);
    expect(bodyOf(response).error.code).toBe('TASK_NOT_FOUND');
    expect(aws.ddbMock.commandCalls(QueryCommand)).toHaveLength(0);
    expect(aws.ddbMock.commandCalls(GetCommand, { TableName: 'deliveries' })).toHaveLength(0);
    expect(aws.sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});
