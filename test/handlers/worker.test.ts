import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import type { ProcessingResult } from '../../lambdas/documents/document.js';
import type { Task } from '../../lambdas/core/task.js';
import { fetchUrl } from '../../lambdas/adapters/url-source.js';
import type { WorkerDeps } from '../../lambdas/consumers/worker-deps.js';
import { makeWorkerHandler } from '../../lambdas/consumers/worker.js';
import { lambdaContext } from '../support/api.js';
import { readCorpus } from '../support/corpus.js';
import { startTestTable, type TestTable } from '../support/dynalite.js';
import { aTask, testWorkerConfig } from '../support/fixtures.js';
import { MemoryBlobStore } from '../support/memory.js';
import { assembleInSandbox, processInSandbox, readPartInSandbox } from '../support/sandbox.js';
import { taskMetrics } from '../../lambdas/observability.js';
import { recordingEvents } from '../support/events.js';
import { Announcements } from '../../lambdas/core/events.js';
import { deliverToKnowledgeBase } from '../../lambdas/knowledge-base/deliver.js';

let table: TestTable;
let store: DynamoTaskStore;
let blobs: MemoryBlobStore;
let processCalls = 0;
let counter = 0;
const id = () => `10000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;

const config = testWorkerConfig();
const events = recordingEvents();
// One per environment, as workerDeps makes it once: the handler waits for it before returning.
const announcements = new Announcements();

const deps = (overrides: Partial<WorkerDeps> = {}): WorkerDeps => ({
  config,
  store,
  blobs,
  clock: { now: () => new Date() },
  metrics: taskMetrics,
  events: events.sink,
  announcements,
  newId: id,
  fetchSource: fetchUrl,
  processDocument: async (...args) => {
    processCalls++;
    return processInSandbox(...args);
  },
  readPart: readPartInSandbox,
  assembleParts: assembleInSandbox,
  progressIntervalMs: 0,
  ...overrides,
});

const sqsEvent = (...messages: Array<{ task_id: string; attempt?: number } | string>): SQSEvent => ({
  Records: messages.map((message, index) => ({
    messageId: `msg-${index}`,
    receiptHandle: `rh-${index}`,
    body: typeof message === 'string' ? message : JSON.stringify({ v: 1, attempt: 1, ...message }),
    attributes: { ApproximateReceiveCount: '1' } as never,
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:standard',
    awsRegion: 'us-east-1',
  })),
});

const pendingTask = async (bytes: Buffer | string, overrides: Partial<Task> = {}) => {
  const taskId = id();
  const key = `direct/${taskId}/input`;
  await blobs.put('bucket', key, typeof bytes === 'string' ? Buffer.from(bytes) : bytes, 'application/octet-stream');
  const now = new Date();
  const task = aTask({
    task_id: taskId,
    input: { kind: 's3', bucket: 'bucket', key },
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
    expires_at: new Date(now.getTime() + 86400_000).toISOString(),
    ...overrides,
  });
  await store.create(task);
  return task;
};

const resultOf = (task: Task | undefined): ProcessingResult => {
  const pointer = task?.result;
  const object = pointer && blobs.objects.get(`${pointer.bucket}/${pointer.key}`);
  return JSON.parse(Buffer.from(object?.bytes ?? []).toString()) as ProcessingResult;
};

beforeAll(async () => {
  table = await startTestTable();
  store = new DynamoTaskStore(table.client, table.tableName);
});
afterAll(async () => table.close());
beforeEach(() => {
  blobs = new MemoryBlobStore();
  processCalls = 0;
});

describe('worker', () => {
  it('processes a task: STARTED, then SUCCESS with the result stored', async () => {
    const task = await pendingTask('Hello world.\n\nSecond paragraph.', {
      options: { split: true, chunk_size: 20, chunk_overlap: 0 },
    });
    const response = await makeWorkerHandler(() => deps())(sqsEvent({ task_id: task.task_id }), lambdaContext(60_000));
    expect(response).toEqual({ batchItemFailures: [] });
    const done = await store.get(task.task_id);
    expect(done).toMatchObject({ status: 'SUCCESS', progress: 100, stage: 'done' });
    expect(done?.started_at).toEqual(expect.any(String));
    expect(done?.finished_at).toEqual(expect.any(String));
    expect(done?.result?.headline.document_count).toBe(2);
    expect(resultOf(done).documents.map((doc) => doc.page_content)).toEqual(['Hello world.', 'Second paragraph.']);
  });

  it('announces STARTED then SUCCESS, each sent once and taken off the outbox', async () => {
    const task = await pendingTask('announced');
    events.sent.length = 0;
    await makeWorkerHandler(() => deps())(sqsEvent({ task_id: task.task_id }), lambdaContext(60_000));
    const sent = events.sent.filter(({ task: row }) => row.task_id === task.task_id);
    expect(sent.map(({ event }) => event.type)).toEqual(['task.started', 'task.succeeded']);
    expect((await store.get(task.task_id))?.outbox).toBeUndefined();
  });

  it('finishes the task when the bus is down, leaving its events in the outbox for the sweep', async () => {
    const task = await pendingTask('bus down');
    const down = recordingEvents({ failing: true });
    await makeWorkerHandler(() => deps({ events: down.sink }))(
      sqsEvent({ task_id: task.task_id }),
      lambdaContext(60_000),
    );
    const done = await store.get(task.task_id);
    expect(done?.status).toBe('SUCCESS');
    expect(done?.outbox?.map((event) => event.type)).toEqual(['task.started', 'task.succeeded']);
  });

  it('records a permanent failure with its code and does not ask for a retry', async () => {
    const task = await pendingTask(readCorpus('pdf/password.pdf'));
    const response = await makeWorkerHandler(() => deps())(sqsEvent({ task_id: task.task_id }), lambdaContext(60_000));
    expect(response.batchItemFailures).toEqual([]);
    expect(await store.get(task.task_id)).toMatchObject({
      status: 'FAILURE',
      stage: 'parsing',
      error: { code: 'PDF_PASSWORD_PROTECTED', retryable: false },
    });
  });

  it('reports a transient failure for that record only, so SQS delivers it again', async () => {
    const flaky = await pendingTask('first');
    const fine = await pendingTask('second');
    blobs.failNextGets = 1;
    const response = await makeWorkerHandler(() => deps())(
      sqsEvent({ task_id: flaky.task_id }, { task_id: fine.task_id }),
      lambdaContext(60_000),
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-0' }]);
    expect((await store.get(flaky.task_id))?.status).toBe('STARTED');
    expect((await store.get(fine.task_id))?.status).toBe('SUCCESS');
  });

  it('finishes on redelivery after a run that died, once its lease has run out', async () => {
    const task = await pendingTask('recovered text');
    await store.transition(task, 'start', {
      run_id: 'dead-run',
      lease_expires_at: new Date(Date.now() - 1000).toISOString(),
    });
    const response = await makeWorkerHandler(() => deps())(sqsEvent({ task_id: task.task_id }), lambdaContext(60_000));
    expect(response.batchItemFailures).toEqual([]);
    expect((await store.get(task.task_id))?.status).toBe('SUCCESS');
  });

  it('leaves a message for a task another live run holds to come back later', async () => {
    const task = await pendingTask('held');
    await store.transition(task, 'start', {
      run_id: 'live-run',
      lease_expires_at: new Date(Date.now() + 60_000).toISOString(),
    });
    const response = await makeWorkerHandler(() => deps())(sqsEvent({ task_id: task.task_id }), lambdaContext(60_000));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-0' }]);
    expect(processCalls).toBe(0);
  });

  it('does nothing when a finished task is delivered again', async () => {
    const task = await pendingTask('once');
    const handler = makeWorkerHandler(() => deps());
    await handler(sqsEvent({ task_id: task.task_id }), lambdaContext(60_000));
    const first = await store.get(task.task_id);
    const again = await handler(sqsEvent({ task_id: task.task_id }), lambdaContext(60_000));
    expect(again.batchItemFailures).toEqual([]);
    expect(processCalls).toBe(1);
    expect(await store.get(task.task_id)).toEqual(first);
    expect(blobs.keys('results/')).toHaveLength(1);
  });

  it('gives one result when the same message is delivered twice at once', async () => {
    const task = await pendingTask('twice at once');
    const handler = makeWorkerHandler(() => deps());
    const responses = await Promise.all([
      handler(sqsEvent({ task_id: task.task_id }), lambdaContext(60_000)),
      handler(sqsEvent({ task_id: task.task_id }), lambdaContext(60_000)),
    ]);
    const done = await store.get(task.task_id);
    expect(done?.status).toBe('SUCCESS');
    expect(blobs.keys(`results/${task.task_id}`)).toHaveLength(1);
    expect(resultOf(done).documents).toHaveLength(1);
    expect(responses.flatMap((response) => response.batchItemFailures).length).toBeLessThanOrEqual(1);
  });

  it('stops at the soft time limit and records SOFT_TIME_LIMIT', async () => {
    const task = await pendingTask(readCorpus('text/norwich-city.txt'));
    const slow: WorkerDeps['processDocument'] = async (input, options, context) => {
      // Work past the deadline, then reach a checkpoint as the real loaders do.
      while (Date.now() <= (context?.deadline ?? 0)) await new Promise((resolve) => setTimeout(resolve, 25));
      return processInSandbox(input, options, context);
    };
    const response = await makeWorkerHandler(() => deps({ processDocument: slow }))(
      sqsEvent({ task_id: task.task_id }),
      lambdaContext(config.SOFT_TIME_LIMIT_MARGIN_MS + 2_100),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(await store.get(task.task_id)).toMatchObject({
      status: 'FAILURE',
      error: { code: 'SOFT_TIME_LIMIT', retryable: true },
    });
  });

  it('stops a document that runs past its own time budget, well within the soft limit', async () => {
    const task = await pendingTask(readCorpus('text/norwich-city.txt'));
    const slow: WorkerDeps['processDocument'] = async (input, options, context) => {
      while (Date.now() <= (context?.deadline ?? 0)) await new Promise((resolve) => setTimeout(resolve, 25));
      return processInSandbox(input, options, context);
    };
    const budgeted = { ...config, DOCUMENT_TIME_BUDGET_MS: 300 };
    await makeWorkerHandler(() => deps({ config: budgeted, processDocument: slow }))(
      sqsEvent({ task_id: task.task_id }),
      lambdaContext(60_000),
    );
    expect(await store.get(task.task_id)).toMatchObject({ status: 'FAILURE', error: { code: 'SOFT_TIME_LIMIT' } });
  });

  it('returns a record to the queue untouched when no time is left for it', async () => {
    const task = await pendingTask('late');
    const response = await makeWorkerHandler(() => deps())(sqsEvent({ task_id: task.task_id }), lambdaContext(1_500));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-0' }]);
    expect((await store.get(task.task_id))?.status).toBe('PENDING');
  });

  it('stops a task cancelled mid-run and writes no result', async () => {
    const task = await pendingTask(readCorpus('pdf/layout-parser-paper-fast.pdf'));
    const cancelling: WorkerDeps['processDocument'] = async (input, options, context) => {
      await store.transition(task, 'cancel', {});
      return processInSandbox(input, options, context);
    };
    const response = await makeWorkerHandler(() => deps({ processDocument: cancelling }))(
      sqsEvent({ task_id: task.task_id }),
      lambdaContext(60_000),
    );
    expect(response.batchItemFailures).toEqual([]);
    const stopped = await store.get(task.task_id);
    expect(stopped?.status).toBe('REVOKED');
    expect(stopped?.result).toBeUndefined();
    expect(blobs.keys('results/')).toEqual([]);
  });

  it('drops malformed messages and messages for an earlier attempt', async () => {
    const task = await pendingTask('current', { attempts: 2 });
    const response = await makeWorkerHandler(() => deps())(
      sqsEvent('not json', JSON.stringify({ v: 9, task_id: 'x' }), { task_id: task.task_id, attempt: 1 }),
      lambdaContext(60_000),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(processCalls).toBe(0);
    expect((await store.get(task.task_id))?.status).toBe('PENDING');
  });

  it('fails a presigned upload larger than announced', async () => {
    const task = await pendingTask('0123456789', { source: { type: 'presigned', filename: 'a.txt', size_bytes: 4 } });
    await makeWorkerHandler(() => deps())(sqsEvent({ task_id: task.task_id }), lambdaContext(60_000));
    expect(await store.get(task.task_id)).toMatchObject({ status: 'FAILURE', error: { code: 'UPLOAD_SIZE_MISMATCH' } });
  });
});

describe('worker: knowledge-base destinations', () => {
  const destinations = { docs: { bucket: 'kb-docs', prefix: 'kb/', keys: ['*'] } };
  const kbConfig = { ...config, KB_DESTINATIONS: destinations };
  const withDestination = (text: string) =>
    pendingTask(text, {
      source: { type: 'upload', filename: 'notes.txt', size_bytes: text.length },
      options: { split: false, chunk_size: 1000, chunk_overlap: 200, destination: 'kb:docs' },
    });

  it('writes the document and its sidecar before SUCCESS, and shows where; a redelivery overwrites the same keys', async () => {
    const task = await withDestination('Delivered text.');
    await makeWorkerHandler(() => deps({ config: kbConfig }))(
      sqsEvent({ task_id: task.task_id }),
      lambdaContext(60_000),
    );
    const done = await store.get(task.task_id);
    expect(done?.status).toBe('SUCCESS');
    const documentKey = `kb/${task.task_id}/notes.txt`;
    expect(done?.result?.delivered).toEqual({
      destination: 'kb:docs',
      bucket: 'kb-docs',
      document_key: documentKey,
      sidecar_key: `${documentKey}.metadata.json`,
    });
    expect(Buffer.from(blobs.objects.get(`kb-docs/${documentKey}`)?.bytes ?? []).toString()).toBe('Delivered text.');
    const sidecar = JSON.parse(
      Buffer.from(blobs.objects.get(`kb-docs/${documentKey}.metadata.json`)?.bytes ?? []).toString(),
    );
    expect(sidecar.metadataAttributes).toMatchObject({ task_id: task.task_id, filename: 'notes.txt', format: 'text' });
    const kbKeys = () => [...blobs.objects.keys()].filter((key) => key.startsWith('kb-docs/'));
    expect(kbKeys()).toHaveLength(2);
    // Another run of the same task (a retry, a redelivery) writes the same two keys: no copy.
    const again = await deliverToKnowledgeBase(
      { blobs, clock: { now: () => new Date() }, destinations, maxResultBytes: 10_000_000 },
      done!,
      'notes.txt',
      done!.result!,
    );
    expect(again).toEqual(done?.result?.delivered);
    expect(kbKeys()).toHaveLength(2);
  });

  it('fails the task DESTINATION_FAILED, naming the bucket, when the destination refuses the write', async () => {
    const refusing = new MemoryBlobStore();
    const put = refusing.put.bind(refusing);
    refusing.put = async (bucket, key, body, contentType) => {
      if (bucket === 'kb-docs') throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
      return put(bucket, key, body, contentType);
    };
    blobs = refusing;
    const task = await withDestination('Refused text.');
    const response = await makeWorkerHandler(() => deps({ config: kbConfig, blobs: refusing }))(
      sqsEvent({ task_id: task.task_id }),
      lambdaContext(60_000),
    );
    expect(response.batchItemFailures).toEqual([]);
    const failed = await store.get(task.task_id);
    expect(failed).toMatchObject({ status: 'FAILURE', error: { code: 'DESTINATION_FAILED', retryable: true } });
    expect(failed?.error?.message).toContain('s3://kb-docs/kb/');
    expect(failed?.error?.message).toContain('AccessDenied: Access Denied');
  });

  it('takes the delivered objects back when the task is cancelled while they are written', async () => {
    const cancelling = new MemoryBlobStore();
    blobs = cancelling;
    const task = await withDestination('Cancelled text.');
    const put = cancelling.put.bind(cancelling);
    cancelling.put = async (bucket, key, body, contentType) => {
      await put(bucket, key, body, contentType);
      if (key.endsWith('.metadata.json')) await store.transition(task, 'cancel', {});
    };
    await makeWorkerHandler(() => deps({ config: kbConfig, blobs: cancelling }))(
      sqsEvent({ task_id: task.task_id }),
      lambdaContext(60_000),
    );
    expect((await store.get(task.task_id))?.status).toBe('REVOKED');
    expect([...cancelling.objects.keys()].filter((key) => key.startsWith('kb-docs/'))).toEqual([]);
    expect(cancelling.keys('results/')).toEqual([]);
  });

  it('leaves no document without its sidecar when the sidecar cannot be written', async () => {
    const half = new MemoryBlobStore();
    blobs = half;
    const task = await withDestination('Half text.');
    const put = half.put.bind(half);
    half.put = async (bucket, key, body, contentType) => {
      if (key.endsWith('.metadata.json')) throw Object.assign(new Error('Slow Down'), { name: 'SlowDown' });
      return put(bucket, key, body, contentType);
    };
    await makeWorkerHandler(() => deps({ config: kbConfig, blobs: half }))(
      sqsEvent({ task_id: task.task_id }),
      lambdaContext(60_000),
    );
    expect(await store.get(task.task_id)).toMatchObject({ status: 'FAILURE', error: { code: 'DESTINATION_FAILED' } });
    expect([...half.objects.keys()].filter((key) => key.startsWith('kb-docs/'))).toEqual([]);
  });

  it('fails the task DESTINATION_FAILED when its destination is no longer configured', async () => {
    const task = await withDestination('Orphan text.');
    await makeWorkerHandler(() => deps())(sqsEvent({ task_id: task.task_id }), lambdaContext(60_000));
    expect(await store.get(task.task_id)).toMatchObject({
      status: 'FAILURE',
      error: { code: 'DESTINATION_FAILED', message: expect.stringContaining('no longer configured') },
    });
    expect([...blobs.objects.keys()].some((key) => key.startsWith('kb-docs/'))).toBe(false);
  });
});
