import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import type { Task } from '../../lambdas/core/task.js';
import { makeDeadLettersHandler } from '../../lambdas/consumers/dead-letters.js';
import { sweep } from '../../lambdas/consumers/janitor.js';
import { makeUploadEventsHandler } from '../../lambdas/consumers/upload-events.js';
import { lambdaContext } from '../support/api.js';
import { startTestTable, type TestTable } from '../support/dynalite.js';
import { aTask } from '../support/fixtures.js';
import { MemoryBlobStore, MemoryQueue } from '../support/memory.js';
import { taskMetrics } from '../../lambdas/observability.js';
import { recordingEvents } from '../support/events.js';

let table: TestTable;
let store: DynamoTaskStore;
let queue: MemoryQueue;
let blobs: MemoryBlobStore;
let counter = 0;
const id = () => `20000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;
const clock = { now: () => new Date() };
const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

const sqs = (...bodies: unknown[]): SQSEvent =>
  ({
    Records: bodies.map((body, index) => ({
      messageId: `m${index}`,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })),
  }) as SQSEvent;

const saved = async (overrides: Partial<Task>) => {
  const task = aTask({ task_id: id(), expires_at: new Date(Date.now() + 86400_000).toISOString(), ...overrides });
  await store.create(task);
  return task;
};

beforeAll(async () => {
  table = await startTestTable();
  store = new DynamoTaskStore(table.client, table.tableName);
});
afterAll(async () => table.close());
beforeEach(() => {
  queue = new MemoryQueue();
  blobs = new MemoryBlobStore();
});

describe('DLQ consumer', () => {
  const handler = makeDeadLettersHandler(() => ({
    store,
    clock,
    metrics: taskMetrics,
    events: recordingEvents().sink,
    workerTimeoutMs: { standard: 300_000, large: 900_000 },
  }));

  it('fails a task whose worker crashed on every delivery', async () => {
    const task = await saved({ status: 'STARTED', started_at: minutesAgo(2), updated_at: minutesAgo(1.9) });
    const response = await handler(sqs({ v: 1, task_id: task.task_id, attempt: 1 }), lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(await store.get(task.task_id)).toMatchObject({
      status: 'FAILURE',
      error: { code: 'WORKER_CRASHED', retryable: true },
    });
  });

  it('calls it TIME_LIMIT_EXCEEDED when the run kept going up to the timeout', async () => {
    const task = await saved({ status: 'STARTED', started_at: minutesAgo(10), updated_at: minutesAgo(5.1) });
    await handler(sqs({ v: 1, task_id: task.task_id, attempt: 1 }), lambdaContext());
    expect((await store.get(task.task_id))?.error?.code).toBe('TIME_LIMIT_EXCEEDED');
  });

  it('calls it WORKER_CRASHED when the last run died at once, however far apart the deliveries were', async () => {
    const task = await saved({
      status: 'STARTED',
      started_at: minutesAgo(40),
      run_started_at: minutesAgo(1),
      updated_at: minutesAgo(0.99),
    });
    await handler(sqs({ v: 1, task_id: task.task_id, attempt: 1 }), lambdaContext());
    expect((await store.get(task.task_id))?.error?.code).toBe('WORKER_CRASHED');
  });

  it("judges a large task by the large worker's timeout", async () => {
    const ranFiveMinutes = { status: 'STARTED' as const, started_at: minutesAgo(10), updated_at: minutesAgo(5) };
    const large = await saved({ ...ranFiveMinutes, queue: 'large' });
    await handler(sqs({ v: 1, task_id: large.task_id, attempt: 1 }), lambdaContext());
    expect((await store.get(large.task_id))?.error?.code).toBe('WORKER_CRASHED');
    const timedOut = await saved({
      status: 'STARTED',
      queue: 'large',
      started_at: minutesAgo(20),
      updated_at: minutesAgo(5),
    });
    await handler(sqs({ v: 1, task_id: timedOut.task_id, attempt: 1 }), lambdaContext());
    expect((await store.get(timedOut.task_id))?.error?.code).toBe('TIME_LIMIT_EXCEEDED');
  });

  it('fails a task that never started (poison message)', async () => {
    const task = await saved({ status: 'PENDING' });
    await handler(sqs({ v: 1, task_id: task.task_id, attempt: 1 }), lambdaContext());
    expect((await store.get(task.task_id))?.status).toBe('FAILURE');
  });

  it('leaves finished tasks and other attempts alone, and drops what is not a task message', async () => {
    const done = await saved({ status: 'SUCCESS' });
    const retried = await saved({ status: 'PENDING', attempts: 2 });
    const response = await handler(
      sqs({ v: 1, task_id: done.task_id, attempt: 1 }, { v: 1, task_id: retried.task_id, attempt: 1 }, 'garbage'),
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect((await store.get(done.task_id))?.status).toBe('SUCCESS');
    expect((await store.get(retried.task_id))?.status).toBe('PENDING');
  });
});

describe('upload events', () => {
  const handler = makeUploadEventsHandler(() => ({
    store,
    queue,
    clock,
    metrics: taskMetrics,
    events: recordingEvents().sink,
  }));
  const created = (taskId: string, size: number) => ({
    Records: [
      {
        eventName: 'ObjectCreated:Put',
        s3: { bucket: { name: 'b' }, object: { key: `uploads/${taskId}/input`, size } },
      },
    ],
  });

  it('starts an awaiting task when its upload lands, on its queue', async () => {
    const task = await saved({
      status: 'AWAITING_UPLOAD',
      queue: 'large',
      source: { type: 'presigned', filename: 'big.pdf', size_bytes: 100 },
    });
    const response = await handler(sqs(created(task.task_id, 100)), lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect((await store.get(task.task_id))?.status).toBe('PENDING');
    expect(queue.sent).toEqual([{ queue: 'large', message: { v: 1, task_id: task.task_id, attempt: 1 } }]);
  });

  it('fails a task whose upload is larger than announced', async () => {
    const task = await saved({
      status: 'AWAITING_UPLOAD',
      source: { type: 'presigned', filename: 'a', size_bytes: 10 },
    });
    await handler(sqs(created(task.task_id, 11)), lambdaContext());
    expect(await store.get(task.task_id)).toMatchObject({ status: 'FAILURE', error: { code: 'UPLOAD_SIZE_MISMATCH' } });
    expect(queue.sent).toEqual([]);
  });

  it('ignores the S3 test event, foreign keys and cancelled tasks', async () => {
    const revoked = await saved({ status: 'REVOKED', source: { type: 'presigned', filename: 'a', size_bytes: 10 } });
    const response = await handler(
      sqs(
        { Event: 's3:TestEvent' },
        { Records: [{ eventName: 'ObjectCreated:Put', s3: { object: { key: 'elsewhere/x', size: 1 } } }] },
        created(revoked.task_id, 10),
      ),
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(queue.sent).toEqual([]);
    expect((await store.get(revoked.task_id))?.status).toBe('REVOKED');
  });
});

describe('janitor', () => {
  const deps = () => ({
    store,
    queue,
    blobs,
    clock,
    metrics: taskMetrics,
    events: recordingEvents().sink,
    config: { PENDING_REQUEUE_MINUTES: 30 },
  });

  it('fails uploads that never arrived, and starts those whose event was lost', async () => {
    const base = { status: 'AWAITING_UPLOAD' as const, created_at: minutesAgo(60), upload_expires_at: minutesAgo(30) };
    const abandoned = await saved({ ...base, source: { type: 'presigned', filename: 'a', size_bytes: 3 } });
    const landed = await saved({ ...base, source: { type: 'presigned', filename: 'b', size_bytes: 3 } });
    const fresh = await saved({
      status: 'AWAITING_UPLOAD',
      created_at: minutesAgo(1),
      upload_expires_at: new Date(Date.now() + 600_000).toISOString(),
    });
    if (landed.input.kind === 's3') await blobs.put(landed.input.bucket, landed.input.key, 'abc', 'text/plain');
    const report = await sweep(deps());
    expect(report).toMatchObject({ uploadsExpired: 1, uploadsRecovered: 1 });
    expect(await store.get(abandoned.task_id)).toMatchObject({ status: 'FAILURE', error: { code: 'UPLOAD_EXPIRED' } });
    expect((await store.get(landed.task_id))?.status).toBe('PENDING');
    expect((await store.get(fresh.task_id))?.status).toBe('AWAITING_UPLOAD');
    expect(queue.sent.map((sent) => sent.message.task_id)).toContain(landed.task_id);
  });

  it('goes on past a task it cannot handle, counts it, and handles it at the next sweep', async () => {
    const longAgo = '2000-01-01T00:00:00.000Z';
    const first = await saved({ status: 'PENDING', created_at: longAgo, updated_at: longAgo });
    const second = await saved({ status: 'PENDING', created_at: minutesAgo(110), updated_at: minutesAgo(110) });
    let failNext = true;
    const flaky = {
      send: async (...args: Parameters<typeof queue.send>) => {
        if (failNext) {
          failNext = false;
          throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
        }
        return queue.send(...args);
      },
    };
    // The oldest comes first: its send fails, the next one is still queued.
    expect(await sweep({ ...deps(), queue: flaky })).toMatchObject({ errors: 1 });
    const sentIds = () => queue.sent.map((sent) => sent.message.task_id);
    expect(sentIds()).toContain(second.task_id);
    expect(sentIds()).not.toContain(first.task_id);
    expect(await sweep({ ...deps(), queue: flaky })).toMatchObject({ errors: 0 });
    expect(sentIds()).toContain(first.task_id);
  });

  it('sends the events a dead function left in the outbox, a minute on, and not fresher ones', async () => {
    // Two tasks whose changes were written 2 minutes and 10 seconds ago, their announcements never sent.
    const writtenAt = (ms: number) =>
      new DynamoTaskStore(table.client, table.tableName, () => new Date(Date.now() - ms));
    const abandoned = await saved({ status: 'PENDING' });
    const fresh = await saved({ status: 'PENDING' });
    await writtenAt(120_000).transition(abandoned, 'start', {});
    await writtenAt(10_000).transition(fresh, 'start', {});
    const events = recordingEvents();
    const report = await sweep({ ...deps(), events: events.sink });
    expect(events.sent.map(({ task, event }) => [task.task_id, event.type])).toContainEqual([
      abandoned.task_id,
      'task.started',
    ]);
    expect(events.sent.map(({ task }) => task.task_id)).not.toContain(fresh.task_id);
    expect(report.eventsSent).toBeGreaterThanOrEqual(1);
    expect((await store.get(abandoned.task_id))?.outbox).toBeUndefined();
    expect((await store.get(fresh.task_id))?.outbox).toHaveLength(1);
  });

  it('queues again a task left PENDING for too long, and not a recent one', async () => {
    const stale = await saved({ status: 'PENDING', created_at: minutesAgo(120), updated_at: minutesAgo(120) });
    const recent = await saved({ status: 'PENDING', created_at: minutesAgo(1), updated_at: minutesAgo(1) });
    await sweep(deps());
    const requeued = queue.sent.map((sent) => sent.message.task_id);
    expect(requeued).toContain(stale.task_id);
    expect(requeued).not.toContain(recent.task_id);
  });
});
