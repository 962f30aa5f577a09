import { createHash } from 'node:crypto';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoResultCache } from '../../lambdas/adapters/dynamo-result-cache.js';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import { fetchUrl } from '../../lambdas/adapters/url-source.js';
import { makeGetFigureHandler } from '../../lambdas/api/get-figure.js';
import type { WorkerDeps } from '../../lambdas/consumers/worker-deps.js';
import { makeWorkerHandler } from '../../lambdas/consumers/worker.js';
import { Announcements } from '../../lambdas/core/events.js';
import type { Task } from '../../lambdas/core/task.js';
import type { ProcessingOptions } from '../../lambdas/documents/options.js';
import { taskMetrics } from '../../lambdas/observability.js';
import { apiEvent, apiTestDeps, bodyOf, lambdaContext, mockedAws } from '../support/api.js';
import { startTestTable, type TestTable } from '../support/dynalite.js';
import { recordingEvents } from '../support/events.js';
import { aTask, testWorkerConfig } from '../support/fixtures.js';
import { pngOf } from '../support/images.js';
import { readCorpus } from '../support/corpus.js';
import { MemoryBlobStore } from '../support/memory.js';
import { assembleInSandbox, processInSandbox, readPartInSandbox } from '../support/sandbox.js';

/**
 * Figures through the worker and the figure route: the real handlers and
 * sandbox, the task table in dynalite, S3 in memory.
 */
let table: TestTable;
let store: DynamoTaskStore;
let cache: DynamoResultCache;
let blobs: MemoryBlobStore;
let counter = 0;
const id = () => `30000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;
const config = { ...testWorkerConfig(), RESULT_CACHE_TTL_SECONDS: 3600 };

const workerDeps = (overrides: Partial<WorkerDeps> = {}): WorkerDeps => ({
  config,
  store,
  blobs,
  clock: { now: () => new Date() },
  metrics: taskMetrics,
  events: recordingEvents().sink,
  announcements: new Announcements(),
  newId: id,
  fetchSource: fetchUrl,
  processDocument: processInSandbox,
  resultCache: cache,
  readPart: readPartInSandbox,
  assembleParts: assembleInSandbox,
  progressIntervalMs: 0,
  ...overrides,
});

const sqsEvent = (taskId: string): SQSEvent => ({
  Records: [
    {
      messageId: 'msg-0',
      receiptHandle: 'rh-0',
      body: JSON.stringify({ v: 1, task_id: taskId, attempt: 1 }),
      attributes: { ApproximateReceiveCount: '1' } as never,
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:standard',
      awsRegion: 'us-east-1',
    },
  ],
});

const chart = pngOf(160, 90, [10, 90, 200], 5);
const PAGE = `<h1>Report</h1><figure><img src="data:image/png;base64,${chart.toString('base64')}"><figcaption>Figure 1: Costs</figcaption></figure><p>The end.</p>`;
const FIGURES: ProcessingOptions = { split: false, chunk_size: 1000, chunk_overlap: 200, figures: 'refs' };

const pageTask = async (options: ProcessingOptions = FIGURES, owner = 'key-a') => {
  const taskId = id();
  const key = `direct/${taskId}/input`;
  await blobs.put('bucket', key, Buffer.from(PAGE), 'text/html');
  const now = new Date();
  const task = aTask({
    task_id: taskId,
    input: { kind: 's3', bucket: 'bucket', key },
    source: { type: 'upload', filename: 'report.html', size_bytes: PAGE.length },
    options,
    owner,
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
    expires_at: new Date(now.getTime() + 86400_000).toISOString(),
  });
  await store.create(task);
  return task;
};

const run = async (task: Task, overrides: Partial<WorkerDeps> = {}): Promise<Task> => {
  const response = await makeWorkerHandler(() => workerDeps(overrides))(sqsEvent(task.task_id), lambdaContext(60_000));
  expect(response).toEqual({ batchItemFailures: [] });
  return (await store.get(task.task_id)) as Task;
};

const resultOf = (task: Task) =>
  JSON.parse(Buffer.from(blobs.objects.get(`${task.result?.bucket}/${task.result?.key}`)?.bytes ?? []).toString());

const aws = mockedAws();
const apiDeps = () => {
  const base = apiTestDeps(aws);
  // The bucket the worker stored in.
  return {
    ...base,
    config: { ...base.config, BUCKET_NAME: config.BUCKET_NAME },
    store,
    blobs,
    clock: { now: () => new Date() },
  };
};
const getFigure = makeGetFigureHandler(apiDeps);
const ask = (taskId: string, figureId: string, apiKeyId = 'key-a') =>
  getFigure(
    apiEvent({
      method: 'GET',
      path: `/documents/async/tasks/${taskId}/figures/${figureId}`,
      pathParameters: { task_id: taskId, figure_id: figureId },
      apiKeyId,
    }),
    lambdaContext(),
  );

beforeAll(async () => {
  table = await startTestTable();
  store = new DynamoTaskStore(table.client, table.tableName);
  cache = new DynamoResultCache(table.client, table.tableName);
});
afterAll(async () => table.close());
beforeEach(() => {
  blobs = new MemoryBlobStore();
});

describe('figures in the worker', () => {
  it('stores each figure under its task before the result, which lists it; stats count it', async () => {
    const done = await run(await pageTask());
    expect(done.status).toBe('SUCCESS');
    const result = resultOf(done);
    const [figure] = result.figures;
    expect(result.figures).toHaveLength(1);
    expect(figure).toMatchObject({ caption: 'Figure 1: Costs', media_type: 'image/png', width: 160, height: 90 });
    expect(done.result?.headline.stats.figures).toBe(1);
    // The task row keeps the count, not the list.
    expect(done.result?.headline).not.toHaveProperty('figures');
    const stored = blobs.objects.get(`${config.BUCKET_NAME}/results/${done.task_id}/figures/${figure.id}`);
    expect(stored?.contentType).toBe('image/png');
    expect(Buffer.from(stored?.bytes ?? []).equals(chart)).toBe(true);
  });

  it("hands a zip part's pictures out of the sandbox (a DOCX's, whose buffers Node made)", async () => {
    const bytes = readCorpus('docx/contains-pictures.docx');
    const taskId = id();
    const key = `direct/${taskId}/input`;
    await blobs.put('bucket', key, bytes, 'application/vnd.openxmlformats-officedocument.wordprocessingml.document');
    const now = new Date();
    const task = aTask({
      task_id: taskId,
      input: { kind: 's3', bucket: 'bucket', key },
      source: { type: 'upload', filename: 'contains-pictures.docx', size_bytes: bytes.length },
      options: FIGURES,
      owner: 'key-a',
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
      expires_at: new Date(now.getTime() + 86400_000).toISOString(),
    });
    await store.create(task);
    const done = await run(task);
    expect(done.status, JSON.stringify(done.error)).toBe('SUCCESS');
    const { figures } = resultOf(done);
    expect(figures.length).toBeGreaterThan(0);
    for (const figure of figures) {
      const stored = blobs.objects.get(`${config.BUCKET_NAME}/results/${done.task_id}/figures/${figure.id}`);
      expect(
        createHash('sha256')
          .update(stored?.bytes ?? new Uint8Array())
          .digest('hex'),
      ).toBe(figure.sha256);
    }
  });

  it('a result served from the cache gets its own copy of every figure', async () => {
    const first = await run(await pageTask());
    const second = await run(await pageTask());
    expect(second.cached).toBe(true);
    const [figure] = resultOf(second).figures;
    const copy = blobs.objects.get(`${config.BUCKET_NAME}/results/${second.task_id}/figures/${figure.id}`);
    expect(Buffer.from(copy?.bytes ?? []).equals(chart)).toBe(true);
    expect(resultOf(second)).toEqual(resultOf(first));
  });

  it('a cache entry whose figure is gone is a miss: the document is read again', async () => {
    const first = await run(await pageTask());
    const [figure] = resultOf(first).figures;
    await blobs.delete(config.BUCKET_NAME, `results/${first.task_id}/figures/${figure.id}`);
    const second = await run(await pageTask());
    expect(second.cached).toBeUndefined();
    expect(blobs.objects.has(`${config.BUCKET_NAME}/results/${second.task_id}/figures/${figure.id}`)).toBe(true);
  });
});

describe('figures=describe in the worker', () => {
  it("stores each figure's description in the result, and what the model used in its stats", async () => {
    const vision = {
      modelId: 'test-model',
      describe: async () => ({ text: 'A blue striped chart.', inputTokens: 90, outputTokens: 7 }),
    };
    const done = await run(await pageTask({ ...FIGURES, figures: 'describe' }), { vision });
    expect(done.status).toBe('SUCCESS');
    const result = resultOf(done);
    expect(result.figures[0]).toMatchObject({ caption: 'Figure 1: Costs', description: 'A blue striped chart.' });
    const used = { model: 'test-model', described: 1, input_tokens: 90, output_tokens: 7 };
    expect(result.stats.figure_descriptions).toEqual(used);
    expect(done.result?.headline.stats).toMatchObject({ figure_descriptions: used });
    expect(blobs.objects.has(`${config.BUCKET_NAME}/results/${done.task_id}/figures/${result.figures[0].id}`)).toBe(
      true,
    );
  });
});

describe('GET tasks/{id}/figures/{figure_id}', () => {
  it("answers the owner a presigned link with the figure's type and size", async () => {
    const done = await run(await pageTask());
    const [figure] = resultOf(done).figures;
    const response = await ask(done.task_id, figure.id);
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toMatchObject({
      task_id: done.task_id,
      figure_id: figure.id,
      media_type: 'image/png',
      bytes: chart.length,
      url: `https://${config.BUCKET_NAME}.s3.amazonaws.com/results/${done.task_id}/figures/${figure.id}?signed`,
    });
    expect(Date.parse(bodyOf(response).expires_at)).toBeGreaterThan(Date.now());
  });

  it('is a 404 for another key, an unknown or malformed figure, and a task without figures', async () => {
    const done = await run(await pageTask());
    const [figure] = resultOf(done).figures;
    const other = await ask(done.task_id, figure.id, 'key-b');
    expect(other.statusCode).toBe(404);
    expect(bodyOf(other).error.code).toBe('TASK_NOT_FOUND');
    for (const figureId of ['fig-0000000000000000', 'fig-../../x', figure.id.toUpperCase().replace('FIG', 'img')]) {
      const response = await ask(done.task_id, figureId);
      expect(response.statusCode, figureId).toBe(404);
      expect(bodyOf(response).error.code).toBe('FIGURE_NOT_FOUND');
    }
    const plain = await run(await pageTask({ split: false, chunk_size: 1000, chunk_overlap: 200 }));
    expect((await ask(plain.task_id, figure.id)).statusCode).toBe(404);
  });
});
