import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import { fetchUrl } from '../../lambdas/adapters/url-source.js';
import { makeDeadLettersHandler } from '../../lambdas/consumers/dead-letters.js';
import type { WorkerDeps } from '../../lambdas/consumers/worker-deps.js';
import { makeWorkerHandler } from '../../lambdas/consumers/worker.js';
import { Announcements } from '../../lambdas/core/events.js';
import { cancelTask } from '../../lambdas/core/lifecycle.js';
import type { PartMessage, Task } from '../../lambdas/core/task.js';
import { taskSummary } from '../../lambdas/core/task-views.js';
import type { ProcessingResult } from '../../lambdas/documents/document.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { AppError } from '../../lambdas/errors.js';
import { taskMetrics } from '../../lambdas/observability.js';
import { scannedPdf, scanOf } from '../../fuzz/scans.js';
import { lambdaContext } from '../support/api.js';
import { startTestTable, type TestTable } from '../support/dynalite.js';
import { recordingEvents } from '../support/events.js';
import { aTask, testWorkerConfig } from '../support/fixtures.js';
import { MemoryBlobStore } from '../support/memory.js';
import { assembleInSandbox, processInSandbox, readPartInSandbox } from '../support/sandbox.js';

/**
 * Page fan-out through the worker's handler: a scan with several pages to
 * recognise is planned into parts, each part read by a message of its own
 * (in any order, any number of times), and the last one puts the result
 * together; a cancel, a failed part and a dead-lettered part each end the
 * task as they should.
 */
let table: TestTable;
let store: DynamoTaskStore;
let blobs: MemoryBlobStore;
let sent: PartMessage[];
let scan: Buffer;
let counter = 0;
const id = () => `20000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;

const PAGES = [
  ['Minutes of the harbour board', 'The meeting opened at nine'],
  ['Dredging of the outer channel', 'Work resumes in the autumn'],
  ['Pilotage fees for next year', 'Rates rise by two percent'],
];

const config = { ...testWorkerConfig(), OCR_FAN_OUT_MIN_PAGES: 2, OCR_PAGES_PER_PART: 1, PAGES_QUEUE_URL: 'pages' };
const events = recordingEvents();
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
  processDocument: processInSandbox,
  readPart: readPartInSandbox,
  assembleParts: assembleInSandbox,
  parts: { sendParts: async (messages) => void sent.push(...messages) },
  progressIntervalMs: 0,
  ...overrides,
});

const sqsEvent = (...bodies: object[]): SQSEvent => ({
  Records: bodies.map((body, index) => ({
    messageId: `msg-${index}`,
    receiptHandle: `rh-${index}`,
    body: JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1' } as never,
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:pages',
    awsRegion: 'us-east-1',
  })),
});

const deliver = (overrides: Partial<WorkerDeps>, ...bodies: object[]) =>
  makeWorkerHandler(() => deps(overrides))(sqsEvent(...bodies), lambdaContext(120_000));

const pendingScan = async (overrides: Partial<Task> = {}): Promise<Task> => {
  const taskId = id();
  const key = `direct/${taskId}/input`;
  await blobs.put('bucket', key, scan, 'application/pdf');
  const now = new Date();
  const task = aTask({
    task_id: taskId,
    source: { type: 'upload', filename: 'board.pdf', size_bytes: scan.length },
    input: { kind: 's3', bucket: 'bucket', key },
    options: { split: false, chunk_size: 1000, chunk_overlap: 200 },
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
    expires_at: new Date(now.getTime() + 86400_000).toISOString(),
    ...overrides,
  });
  await store.create(task);
  return task;
};

/** Runs the task's message: it fans out; the parts it sent are returned. */
const fanOut = async (task: Task, overrides: Partial<WorkerDeps> = {}): Promise<PartMessage[]> => {
  sent = [];
  await deliver(overrides, { v: 1, task_id: task.task_id, attempt: 1 });
  return [...sent];
};

const resultOf = (task: Task | undefined): ProcessingResult => {
  const pointer = task?.result;
  const object = pointer && blobs.objects.get(`${pointer.bucket}/${pointer.key}`);
  return JSON.parse(Buffer.from(object?.bytes ?? []).toString()) as ProcessingResult;
};

const partKeys = (taskId: string) =>
  [...blobs.objects.keys()].filter((key) => key.includes(`${taskId}/`) && key.includes('/part-'));

beforeAll(async () => {
  table = await startTestTable();
  store = new DynamoTaskStore(table.client, table.tableName);
  const scans = await Promise.all(PAGES.map((lines) => scanOf(lines)));
  scan = scannedPdf(scans);
});
afterAll(async () => table.close());
beforeEach(() => {
  blobs = new MemoryBlobStore();
  sent = [];
});

describe('page fan-out', () => {
  it('plans the parts, reads them in any order and puts together the result the document gives read at once', async () => {
    const task = await pendingScan();
    const parts = await fanOut(task);
    expect(parts.map((part) => part.part)).toEqual([0, 1, 2]);
    const planned = await store.get(task.task_id);
    expect(planned).toMatchObject({ status: 'STARTED', stage: 'parsing' });
    expect(planned?.fan_out).toMatchObject({ parts: ['1', '2', '3'], ocr_pages: [1, 1, 1], done: {} });
    expect(taskSummary(planned!).fan_out).toEqual({ parts: 3, parts_done: 0, ocr_pages: 3, ocr_pages_done: 0 });

    await deliver({}, parts[2]!);
    await deliver({}, parts[0]!);
    const halfway = await store.get(task.task_id);
    expect(halfway?.status).toBe('STARTED');
    expect(taskSummary(halfway!).fan_out).toMatchObject({ parts_done: 2, ocr_pages_done: 2 });
    expect(halfway?.progress).toBeGreaterThan(planned?.progress ?? 0);

    await deliver({}, parts[1]!);
    const done = await store.get(task.task_id);
    expect(done).toMatchObject({ status: 'SUCCESS', progress: 100 });
    const whole = await processDocument({ bytes: new Uint8Array(scan), filename: 'board.pdf' }, task.options);
    expect(resultOf(done)).toEqual(whole);
    expect(resultOf(done).documents.map((document) => document.metadata.ocr)).toEqual([true, true, true]);
    // The parts are removed once the result is stored.
    expect(partKeys(task.task_id)).toEqual([]);
  });

  it('reads a part delivered twice once, and a delivery after the result changes nothing', async () => {
    const task = await pendingScan();
    const parts = await fanOut(task);
    let reads = 0;
    const counting: Partial<WorkerDeps> = {
      readPart: async (...args) => {
        reads++;
        return readPartInSandbox(...args);
      },
    };
    await deliver(counting, parts[0]!);
    await deliver(counting, parts[0]!);
    expect(reads).toBe(1);
    await deliver(counting, parts[1]!, parts[2]!);
    const done = await store.get(task.task_id);
    expect(done?.status).toBe('SUCCESS');
    await deliver(counting, parts[2]!);
    expect(reads).toBe(3);
    expect(await store.get(task.task_id)).toMatchObject({ status: 'SUCCESS', result: done?.result });
  });

  it('assembles again when the last part was recorded but its invocation died before the result', async () => {
    const task = await pendingScan();
    const parts = await fanOut(task);
    await deliver({}, parts[0]!, parts[1]!);
    const crash = await deliver(
      {
        assembleParts: async () => {
          throw new Error('the function died');
        },
      },
      parts[2]!,
    );
    expect(crash.batchItemFailures).toHaveLength(1);
    expect((await store.get(task.task_id))?.status).toBe('STARTED');
    await deliver({}, parts[2]!);
    expect((await store.get(task.task_id))?.status).toBe('SUCCESS');
  });

  it('stops at a cancel: the parts left do nothing, and the task never gets a result', async () => {
    const task = await pendingScan();
    const parts = await fanOut(task);
    await deliver({}, parts[0]!);
    await cancelTask(deps(), task.task_id, task.owner);
    let reads = 0;
    const counting: Partial<WorkerDeps> = {
      readPart: async (...args) => {
        reads++;
        return readPartInSandbox(...args);
      },
    };
    await deliver(counting, parts[1]!, parts[2]!);
    expect(reads).toBe(0);
    const revoked = await store.get(task.task_id);
    expect(revoked?.status).toBe('REVOKED');
    expect(revoked?.result).toBeUndefined();
  });

  it('fails the task naming the pages when a part fails typed', async () => {
    const task = await pendingScan();
    const parts = await fanOut(task);
    const response = await deliver(
      {
        readPart: async () => {
          throw new AppError('DOCUMENT_PARSE_ERROR', 'The PDF could not be read.');
        },
      },
      parts[1]!,
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(await store.get(task.task_id)).toMatchObject({
      status: 'FAILURE',
      error: { code: 'DOCUMENT_PARSE_ERROR', message: 'Pages 2: The PDF could not be read.' },
    });
  });

  it('retries a part that fails untyped, and once it is dead-lettered fails the task naming its pages', async () => {
    const task = await pendingScan();
    const parts = await fanOut(task);
    const response = await deliver(
      {
        readPart: async () => {
          throw new Error('out of memory');
        },
      },
      parts[2]!,
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-0' }]);
    expect((await store.get(task.task_id))?.status).toBe('STARTED');
    const deadLetters = makeDeadLettersHandler(() => ({
      store,
      clock: { now: () => new Date() },
      metrics: taskMetrics,
      events: events.sink,
      workerTimeoutMs: { standard: 60_000, large: 60_000 },
    }));
    await deadLetters(sqsEvent(parts[2]!), lambdaContext(10_000));
    const failed = await store.get(task.task_id);
    expect(failed).toMatchObject({ status: 'FAILURE', error: { code: 'WORKER_CRASHED' } });
    expect(failed?.error?.message).toContain('pages 3');
  });

  it("keeps a URL's bytes for its parts (fetched once), and removes them with the parts", async () => {
    const taskId = id();
    const now = new Date();
    const task = aTask({
      task_id: taskId,
      source: { type: 'url', url: 'https://example.test/board.pdf', filename: 'board.pdf' },
      input: { kind: 'url', url: 'https://example.test/board.pdf' },
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
      expires_at: new Date(now.getTime() + 86400_000).toISOString(),
    });
    await store.create(task);
    let fetches = 0;
    const fetching: Partial<WorkerDeps> = {
      fetchSource: async () => {
        fetches++;
        return {
          bytes: new Uint8Array(scan),
          contentType: 'application/pdf',
          finalUrl: 'https://example.test/board.pdf',
        };
      },
    };
    const parts = await fanOut(task, fetching);
    const staged = (await store.get(taskId))?.fan_out?.input;
    expect(staged?.key).toBe(`results/${taskId}/${(await store.get(taskId))?.run_id}/input`);
    await deliver(fetching, ...parts);
    expect(fetches).toBe(1);
    const done = await store.get(taskId);
    expect(done?.status).toBe('SUCCESS');
    expect(resultOf(done).documents).toHaveLength(3);
    expect(blobs.objects.has(`bucket/${staged?.key}`)).toBe(false);
  });

  it('drops a part message the plan does not have, or of another run, reading nothing', async () => {
    const task = await pendingScan();
    const parts = await fanOut(task);
    let reads = 0;
    const counting: Partial<WorkerDeps> = {
      readPart: async (...args) => {
        reads++;
        return readPartInSandbox(...args);
      },
    };
    const response = await deliver(
      counting,
      { ...parts[0]!, part: 99 },
      { ...parts[0]!, run_id: 'another-run' },
      { ...parts[0]!, attempt: 2 },
      { v: 1, kind: 'part', task_id: task.task_id },
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(reads).toBe(0);
    const still = await store.get(task.task_id);
    expect(still?.status).toBe('STARTED');
    expect(still?.fan_out?.done).toEqual({});
  });

  it('reads a document with fewer pages to recognise than the threshold at once', async () => {
    const task = await pendingScan();
    const parts = await fanOut(task, { config: { ...config, OCR_FAN_OUT_MIN_PAGES: 4 } });
    expect(parts).toEqual([]);
    const done = await store.get(task.task_id);
    expect(done?.status).toBe('SUCCESS');
    expect(done?.fan_out).toBeUndefined();
  });
});
