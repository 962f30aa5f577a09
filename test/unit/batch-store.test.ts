import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { DynamoBatchStore } from '../../lambdas/adapters/dynamo-batch-store.js';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import { batchView, childTaskId, shardOf, zeroCounts, type Batch, type BatchJob } from '../../lambdas/core/batch.js';
import {
  cancelBatch,
  createBatch,
  retryBatch,
  runBatchJob,
  sourcesKey,
  type BatchJobDeps,
  type BatchPolicy,
} from '../../lambdas/core/batches.js';
import { retryTask } from '../../lambdas/core/lifecycle.js';
import { announce } from '../../lambdas/core/events.js';
import type { EventSink, TaskMetrics } from '../../lambdas/core/ports.js';
import type { QueueClass, Task, TaskMessage } from '../../lambdas/core/task.js';
import { startTestTable, type TestTable } from '../support/dynalite.js';
import { aTask, fixedClock, NOW } from '../support/fixtures.js';
import { MemoryBlobStore } from '../support/memory.js';

let table: TestTable;
let tasks: DynamoTaskStore;
let batches: DynamoBatchStore;
let serial = 0;
const newId = () => `10000000-0000-4000-8000-${String(++serial).padStart(12, '0')}`;

beforeAll(async () => {
  table = await startTestTable();
});
afterAll(async () => table.close());
beforeEach(() => {
  tasks = new DynamoTaskStore(table.client, table.tableName, () => NOW);
  batches = new DynamoBatchStore(table.client, table.tableName);
});

const aBatch = (overrides: Partial<Batch> = {}): Batch => ({
  batch_id: newId(),
  owner: 'anonymous',
  source: { type: 'list', count: 0 },
  options: { split: false, chunk_size: 1000, chunk_overlap: 200 },
  created_at: NOW.toISOString(),
  expires_at: new Date(NOW.getTime() + 86400_000).toISOString(),
  page: 0,
  listed: 0,
  listing_done: false,
  ...overrides,
});

/** A child row of `batch`, created and registered as the lister does. */
const aChild = async (batch: Batch, index: number): Promise<Task> => {
  const taskId = childTaskId(batch.batch_id, String(index));
  const { task } = await tasks.createChild(
    aTask({ task_id: taskId, version: 1, batch: { id: batch.batch_id, shard: shardOf(0, taskId), position: index } }),
  );
  await batches.count(task);
  return task;
};

const countsOf = async (batch: Batch) => (await batches.tally(batch)).counts;

describe('childTaskId', () => {
  it('is a UUID derived from the batch and the source key, the same every time', () => {
    const id = childTaskId('batch-a', 'inbox/a.pdf');
    expect(z.uuid().safeParse(id).success).toBe(true);
    expect(childTaskId('batch-a', 'inbox/a.pdf')).toBe(id);
    expect(childTaskId('batch-a', 'inbox/b.pdf')).not.toBe(id);
    expect(childTaskId('batch-b', 'inbox/a.pdf')).not.toBe(id);
  });
});

describe('DynamoBatchStore counts', () => {
  it('follows a child through its changes; a late or repeated view of the row changes nothing', async () => {
    const batch = aBatch();
    await batches.create(batch);
    await batches.openPage(batch, 0);
    const pending = await aChild(batch, 0);
    expect(await countsOf(batch)).toEqual({ ...zeroCounts(), PENDING: 1 });

    const started = (await tasks.transition(pending, 'start', { run_id: 'r1' }))!;
    expect(started.version).toBe(2);
    const succeeded = (await tasks.transition(
      started,
      'succeed',
      { finished_at: NOW.toISOString() },
      { runId: 'r1' },
    ))!;
    expect(succeeded.version).toBe(3);
    // Out of order and twice: the SUCCESS row first, then the STARTED one, then both again.
    await batches.count(succeeded);
    await batches.count(started);
    await batches.count(succeeded);
    await batches.count(pending);
    expect(await countsOf(batch)).toEqual({ ...zeroCounts(), SUCCESS: 1 });
    expect((await batches.tally(batch)).lastFinalAt).toBe(NOW.toISOString());
  });

  it('stays exact under concurrent, repeated and crossed counts of many children', async () => {
    const batch = aBatch();
    await batches.create(batch);
    await batches.openPage(batch, 0);
    const children = await Promise.all(Array.from({ length: 60 }, (_, index) => aChild(batch, index)));
    const views = await Promise.all(
      children.map(async (child, index) => {
        const started = (await tasks.transition(child, 'start', { run_id: `r${index}` }))!;
        const final =
          index % 3 === 0
            ? (await tasks.transition(started, 'cancel', {}))!
            : (await tasks.transition(started, index % 3 === 1 ? 'fail' : 'succeed', {}, { runId: `r${index}` }))!;
        return [child, started, final];
      }),
    );
    // Every view of every row, each twice, all at once, in a scrambled order.
    const all = views.flat().flatMap((view) => [view, view]);
    all.sort((a, b) => (a.task_id + String(a.version)).localeCompare(b.task_id + String(b.version)) * -1);
    await Promise.all(all.map((view) => batches.count(view)));
    expect(await countsOf(batch)).toEqual({ PENDING: 0, STARTED: 0, SUCCESS: 20, FAILURE: 20, REVOKED: 20 });
  });

  it('counts a retried child back in PENDING (its retry is in the outbox, as no other task’s is)', async () => {
    const batch = aBatch();
    await batches.create(batch);
    await batches.openPage(batch, 0);
    const child = await aChild(batch, 0);
    const failed = (await tasks.transition(child, 'fail', {}))!;
    const retried = (await tasks.transition(failed, 'retry', { attempts: 2 }, { attempt: 1 }))!;
    expect(retried.outbox?.map((event) => event.type)).toEqual(['task.failed', 'task.queued']);
    const counted: string[] = [];
    const sink: EventSink = {
      send: async (task, event) => {
        await batches.count(task);
        counted.push(event.type);
      },
    };
    const metrics = { eventUnsent: () => undefined } as unknown as TaskMetrics;
    await announce({ store: tasks, events: sink, metrics }, retried);
    expect(counted).toEqual(['task.failed', 'task.queued']);
    expect(await countsOf(batch)).toEqual({ ...zeroCounts(), PENDING: 1 });

    const lone = aTask({ task_id: newId(), status: 'FAILURE' });
    await tasks.create(lone);
    expect((await tasks.transition(lone, 'retry', { attempts: 2 }, { attempt: 1 }))!.outbox).toBeUndefined();
  });

  it('records a listed page once: a repeated page is refused', async () => {
    const batch = aBatch();
    await batches.create(batch);
    expect(await batches.advance(batch.batch_id, 0, { created: 40, nextToken: 'next', done: false })).toBe(true);
    expect(await batches.advance(batch.batch_id, 0, { created: 40, nextToken: 'next', done: false })).toBe(false);
    expect(await batches.advance(batch.batch_id, 1, { created: 7, done: true })).toBe(true);
    expect(await batches.advance(batch.batch_id, 2, { created: 1, done: true })).toBe(false);
    expect(await batches.get(batch.batch_id)).toMatchObject({ page: 2, listed: 47, listing_done: true });
  });
});

describe('runBatchJob (a list batch on the table emulator)', () => {
  class FlakyQueue {
    readonly sent: Array<{ queue: QueueClass; message: TaskMessage }> = [];
    failures = 0;
    async send(queue: QueueClass, message: TaskMessage) {
      this.sent.push({ queue, message });
    }
    async sendMany(queue: QueueClass, messages: readonly TaskMessage[]) {
      if (this.failures > 0) {
        this.failures--;
        throw new Error('SendMessageBatch refused');
      }
      for (const message of messages) this.sent.push({ queue, message });
    }
  }

  const setUp = async (count: number) => {
    const blobs = new MemoryBlobStore();
    const queue = new FlakyQueue();
    const jobs: BatchJob[] = [];
    const batch = aBatch({ source: { type: 'list', count } });
    const sources = Array.from({ length: count }, (_, index) => ({
      source: { type: 'url' as const, url: `https://example.com/${index}`, filename: `${index}` },
      input: { kind: 'url' as const, url: `https://example.com/${index}` },
    }));
    await blobs.put('bucket', sourcesKey(batch.batch_id), JSON.stringify(sources), 'application/json');
    await batches.create(batch);
    const metrics = new Proxy({}, { get: () => () => undefined }) as TaskMetrics;
    const deps: BatchJobDeps = {
      store: tasks,
      batches,
      blobs,
      queue,
      batchJobs: { send: async (job) => void jobs.push(job) },
      clock: fixedClock(),
      metrics,
      events: { send: (task) => batches.count(task) },
      listPrefix: () => Promise.reject(new Error('not a prefix batch')),
    };
    const policy: BatchPolicy = { bucket: 'bucket', largeInputThresholdBytes: 1_000_000, pageSize: 10 };
    return { deps, policy, batch, queue, jobs };
  };

  it('makes each child once and counts it once when a page is done again after failing part way', async () => {
    const { deps, policy, batch, queue, jobs } = await setUp(25);
    queue.failures = 1;
    const page0: BatchJob = { v: 1, batch_id: batch.batch_id, kind: 'list', page: 0 };
    await expect(runBatchJob(deps, policy, page0)).rejects.toThrow(/refused/);
    // SQS delivers the page again: its children exist already, and are queued this time.
    await runBatchJob(deps, policy, page0);
    // And once more, as a duplicate: the batch is past the page; the next page is queued again, harmlessly.
    await runBatchJob(deps, policy, page0);
    expect(jobs.map((job) => job.page)).toEqual([1, 1]);
    await runBatchJob(deps, policy, { ...page0, page: 1 });
    await runBatchJob(deps, policy, { ...page0, page: 2 });
    expect(jobs.map((job) => job.page)).toEqual([1, 1, 2]);

    const stored = await batches.get(batch.batch_id);
    expect(stored).toMatchObject({ listed: 25, listing_done: true, page: 3 });
    expect(await countsOf(stored!)).toEqual({ ...zeroCounts(), PENDING: 25 });
    const ids = queue.sent.map((sent) => sent.message.task_id);
    expect(new Set(ids).size).toBe(25);
    const listed = await tasks.listBatch({ batchId: batch.batch_id, limit: 100 });
    expect(listed.tasks.map((task) => task.batch?.position)).toEqual(Array.from({ length: 25 }, (_, index) => index));
  });

  it('totals what was made when a page redone after a failure lists other keys (the prefix changed meanwhile)', async () => {
    const { deps, policy, queue } = await setUp(0);
    const batch = aBatch({ source: { type: 'prefix', uri: 's3://bucket/inbox/', bucket: 'bucket', prefix: 'inbox/' } });
    await batches.create(batch);
    const listings = [
      ['inbox/a.txt', 'inbox/c.txt'],
      // Redone: b.txt appeared before c.txt.
      ['inbox/a.txt', 'inbox/b.txt'],
      ['inbox/c.txt'],
    ];
    let call = 0;
    deps.listPrefix = async (_bucket, _prefix, token) => {
      const keys = listings[call++] ?? [];
      return { objects: keys.map((key) => ({ key, size: 10 })), nextToken: token === 'second' ? undefined : 'second' };
    };
    queue.failures = 1;
    const page0: BatchJob = { v: 1, batch_id: batch.batch_id, kind: 'list', page: 0 };
    await expect(runBatchJob(deps, policy, page0)).rejects.toThrow(/refused/);
    await runBatchJob(deps, policy, page0);
    await runBatchJob(deps, policy, { ...page0, page: 1 });
    const stored = (await batches.get(batch.batch_id))!;
    const view = batchView(stored, await batches.tally(stored));
    // Three objects, three tasks (c.txt made once although listed on two pages), and the total says so.
    expect(view).toMatchObject({ status: 'RUNNING', total: 3, counts: { ...zeroCounts(), PENDING: 3 } });
    expect((await tasks.listBatch({ batchId: batch.batch_id, limit: 10 })).tasks).toHaveLength(3);
  });

  it('completes an empty prefix at once, with no task', async () => {
    const { deps, policy } = await setUp(0);
    const batch = aBatch({
      source: { type: 'prefix', uri: 's3://bucket/inbox/none/', bucket: 'bucket', prefix: 'inbox/none/' },
    });
    await batches.create(batch);
    deps.listPrefix = async () => ({ objects: [] });
    await runBatchJob(deps, policy, { v: 1, batch_id: batch.batch_id, kind: 'list', page: 0 });
    const stored = (await batches.get(batch.batch_id))!;
    expect(batchView(stored, await batches.tally(stored))).toMatchObject({ status: 'COMPLETED', total: 0 });
  });

  it('cancels every child not yet final, in pages, and a second pass finds nothing more', async () => {
    const { deps, policy, batch, jobs } = await setUp(12);
    await runBatchJob(deps, policy, { v: 1, batch_id: batch.batch_id, kind: 'list', page: 0 });
    await runBatchJob(deps, policy, { v: 1, batch_id: batch.batch_id, kind: 'list', page: 1 });
    const [first] = (await tasks.listBatch({ batchId: batch.batch_id, limit: 1 })).tasks;
    await tasks.transition(first!, 'start', { run_id: 'r' });
    await batches.revoke(batch.batch_id, NOW.toISOString());
    jobs.length = 0;
    await runBatchJob(deps, policy, { v: 1, batch_id: batch.batch_id, kind: 'cancel', page: 0 });
    expect(jobs).toEqual([{ v: 1, batch_id: batch.batch_id, kind: 'cancel', page: 1 }]);
    await runBatchJob(deps, policy, jobs[0]!);
    const stored = (await batches.get(batch.batch_id))!;
    expect(await countsOf(stored)).toEqual({ ...zeroCounts(), REVOKED: 12 });
    expect(jobs).toHaveLength(1);
  });

  it('records a listed key the service will not read as a refused FAILURE task, counted, and never retried', async () => {
    const { deps, policy, queue } = await setUp(0);
    const batch = aBatch({ source: { type: 'prefix', uri: 's3://bucket/inbox/', bucket: 'bucket', prefix: 'inbox/' } });
    await batches.create(batch);
    deps.listPrefix = async () => ({
      objects: ['inbox/good.txt', 'inbox/x/../../results/evil.txt', 'inbox/ctl\u0001.txt'].map((key) => ({
        key,
        size: 5,
      })),
    });
    await runBatchJob(deps, policy, { v: 1, batch_id: batch.batch_id, kind: 'list', page: 0 });
    const listed = (await tasks.listBatch({ batchId: batch.batch_id, limit: 10 })).tasks;
    expect(listed.map((task) => [task.status, task.rejected ?? false, task.error?.code])).toEqual([
      ['PENDING', false, undefined],
      ['FAILURE', true, 'VALIDATION_ERROR'],
      ['FAILURE', true, 'VALIDATION_ERROR'],
    ]);
    expect(queue.sent.map((sent) => sent.message.task_id)).toEqual([listed[0]!.task_id]);
    const stored = (await batches.get(batch.batch_id))!;
    expect(await countsOf(stored)).toEqual({ ...zeroCounts(), PENDING: 1, FAILURE: 2 });
    // A retry could only read the same key: refused, the task stays as it is.
    await batches.claimSweep(batch.batch_id, 'retry', NOW.toISOString(), NOW.toISOString());
    await runBatchJob(deps, policy, { v: 1, batch_id: batch.batch_id, kind: 'retry', page: 0 });
    expect((await tasks.get(listed[1]!.task_id))?.attempts).toBe(1);
    expect((await batches.get(batch.batch_id))?.sweep).toBeUndefined();
  });

  it('revokes what a retry page requeued when the batch was cancelled meanwhile', async () => {
    const { deps, policy, queue, batch } = await setUp(3);
    const batchId = batch.batch_id;
    await runBatchJob(deps, policy, { v: 1, batch_id: batchId, kind: 'list', page: 0 });
    for (const task of (await tasks.listBatch({ batchId, limit: 10 })).tasks) {
      await batches.count((await tasks.transition(task, 'fail', {}))!);
    }
    // The cancel lands while the retry page is requeueing (after its read of the batch).
    let reads = 0;
    deps.batches = new Proxy(batches, {
      get: (target, property: keyof DynamoBatchStore) =>
        property === 'get'
          ? async (id: string) => {
              if (++reads === 2) await target.revoke(id, NOW.toISOString());
              return target.get(id);
            }
          : (target[property] as (...args: unknown[]) => unknown).bind(target),
    });
    queue.sent.length = 0;
    await runBatchJob(deps, policy, { v: 1, batch_id: batchId, kind: 'retry', page: 0 });
    const after = (await tasks.listBatch({ batchId, limit: 10 })).tasks;
    expect(after.map((task) => task.status)).toEqual(['REVOKED', 'REVOKED', 'REVOKED']);
    expect(await countsOf((await batches.get(batchId))!)).toEqual({ ...zeroCounts(), REVOKED: 3 });
  });
});

describe('batch routes over the table emulator', () => {
  const routeDeps = () => {
    const jobs: BatchJob[] = [];
    return {
      jobs,
      deps: { batches, batchJobs: { send: async (job: BatchJob) => void jobs.push(job) }, clock: fixedClock() },
    };
  };
  const failedBatch = async () => {
    const batch = aBatch({ listing_done: true, page: 1 });
    await batches.create(batch);
    await batches.advance(batch.batch_id, 0, { created: 1, done: true });
    await batches.openPage(batch, 0);
    const child = await aChild(batch, 0);
    await batches.count((await tasks.transition(child, 'fail', {}))!);
    return batch;
  };

  it('queues one cancel sweep however often a batch is cancelled', async () => {
    const { jobs, deps } = routeDeps();
    const batch = aBatch();
    await batches.create(batch);
    for (let call = 0; call < 5; call++) {
      expect(await cancelBatch(deps, batch.batch_id, 'anonymous')).toMatchObject({ status: 'REVOKED' });
    }
    expect(jobs).toEqual([{ v: 1, batch_id: batch.batch_id, kind: 'cancel', page: 0 }]);
  });

  it('runs one retry at a time, shows the batch RUNNING from the moment it is accepted, and lets a cancel through', async () => {
    const { jobs, deps } = routeDeps();
    const batch = await failedBatch();
    expect(await retryBatch(deps, batch.batch_id, 'anonymous')).toMatchObject({ status: 'RUNNING', retrying: 1 });
    await expect(retryBatch(deps, batch.batch_id, 'anonymous')).rejects.toMatchObject({ code: 'BATCH_NOT_RETRYABLE' });
    expect(jobs.map((job) => job.kind)).toEqual(['retry']);
    // A cancel preempts the retry's sweep (which stops at its next page).
    expect(await cancelBatch(deps, batch.batch_id, 'anonymous')).toMatchObject({ status: 'REVOKED' });
    expect(jobs.map((job) => job.kind)).toEqual(['retry', 'cancel']);
  });

  it('refuses to retry a task refused as it was made', async () => {
    const rejected = aTask({ task_id: newId(), status: 'FAILURE', rejected: true });
    await tasks.create(rejected);
    const metrics = new Proxy({}, { get: () => () => undefined }) as TaskMetrics;
    const deps = {
      store: tasks,
      clock: fixedClock(),
      metrics,
      events: { send: async () => undefined },
      queue: { send: async () => undefined },
    };
    await expect(retryTask(deps, rejected.task_id, 'anonymous')).rejects.toMatchObject({
      code: 'TASK_NOT_RETRYABLE',
      message: expect.stringMatching(/write the input again/),
    });
  });

  it('refuses a listing token with empty key values (DynamoDB would answer a 500)', async () => {
    const batch = aBatch();
    const forged = Buffer.from(JSON.stringify({ pk: '', batch_id: batch.batch_id, batch_position: '' })).toString(
      'base64url',
    );
    await expect(tasks.listBatch({ batchId: batch.batch_id, limit: 5, cursor: forged })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
    });
  });
});

describe('createBatch with an Idempotency-Key', () => {
  it('makes one batch per key and request; another request with the key is a conflict; another caller has its own', async () => {
    const blobs = new MemoryBlobStore();
    const jobs: BatchJob[] = [];
    const deps = {
      batches,
      blobs,
      batchJobs: { send: async (job: BatchJob) => void jobs.push(job) },
      clock: fixedClock(),
      newId,
    };
    const policy = { bucket: 'bucket', taskRetentionDays: 1 };
    const sources = [
      {
        source: { type: 'url' as const, url: 'https://example.com/a', filename: 'a' },
        input: { kind: 'url' as const, url: 'https://example.com/a' },
      },
    ];
    const request = {
      kind: 'list' as const,
      sources,
      owner: 'key-a',
      options: { split: false, chunk_size: 1000, chunk_overlap: 200 },
      idempotencyKey: 'load-42',
    };
    const first = await createBatch(deps, policy, request);
    const again = await createBatch(deps, policy, request);
    expect(again).toMatchObject({ batch_id: first.batch_id, replayed: true });
    expect(first.replayed).toBe(false);
    expect(jobs).toHaveLength(1);
    // The replay's own copy of the list was not left behind.
    expect([...blobs.objects.keys()].filter((key) => key.includes('batches/'))).toEqual([
      `bucket/batches/${first.batch_id}/sources.json`,
    ]);
    await expect(
      createBatch(deps, policy, { ...request, options: { ...request.options, split: true } }),
    ).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
    });
    const other = await createBatch(deps, policy, { ...request, owner: 'key-b' });
    expect(other.batch_id).not.toBe(first.batch_id);
  });
});
