import type { SQSEvent } from 'aws-lambda';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoResultCache } from '../../lambdas/adapters/dynamo-result-cache.js';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import { fetchUrl } from '../../lambdas/adapters/url-source.js';
import type { WorkerDeps } from '../../lambdas/consumers/worker-deps.js';
import { makeWorkerHandler } from '../../lambdas/consumers/worker.js';
import { Announcements } from '../../lambdas/core/events.js';
import type { ProcessingOptions } from '../../lambdas/documents/options.js';
import type { TaskMetrics } from '../../lambdas/core/ports.js';
import type { CacheEntry, ResultCache } from '../../lambdas/core/result-cache.js';
import { taskDetail } from '../../lambdas/core/task-queries.js';
import type { Task } from '../../lambdas/core/task.js';
import { taskMetrics } from '../../lambdas/observability.js';
import { TABLE } from '../../shared/definitions.js';
import { makePreviewHandler } from '../../lambdas/api/preview.js';
import { makeProcessHandler } from '../../lambdas/api/process.js';
import { makeUploadUrlHandler } from '../../lambdas/api/upload-url.js';
import { makeUploadHandler } from '../../lambdas/api/upload.js';
import { previewEnvironmentSchema } from '../../lambdas/config.js';
import { apiEvent, apiTestDeps, bodyOf, lambdaContext, mockedAws, multipart } from '../support/api.js';
import { startTestTable, type TestTable } from '../support/dynalite.js';
import { recordingEvents } from '../support/events.js';
import { aTask, testWorkerConfig } from '../support/fixtures.js';
import { MemoryBlobStore } from '../support/memory.js';
import { assembleInSandbox, processInSandbox, readPartInSandbox } from '../support/sandbox.js';

/**
 * The result cache in the worker (docs/api.md, "Result cache"): the real handler,
 * the real sandbox, the task table and the cache's entries in dynalite, S3 in
 * memory. Each test counts how many documents the sandbox parsed.
 */
let table: TestTable;
let store: DynamoTaskStore;
let cache: DynamoResultCache;
let blobs: MemoryBlobStore;
let parsed = 0;
let counter = 0;
const id = () => `20000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;

const TTL_SECONDS = 3600;
const config = { ...testWorkerConfig(), RESULT_CACHE_TTL_SECONDS: TTL_SECONDS };
const events = recordingEvents();
const announcements = new Announcements();
const lookups: Array<'hit' | 'miss'> = [];
const metrics: TaskMetrics = { ...taskMetrics, resultCache: (outcome) => void lookups.push(outcome) };

const deps = (overrides: Partial<WorkerDeps> = {}): WorkerDeps => ({
  config,
  store,
  blobs,
  clock: { now: () => new Date() },
  metrics,
  events: events.sink,
  announcements,
  newId: id,
  fetchSource: fetchUrl,
  processDocument: async (...args) => {
    parsed++;
    return processInSandbox(...args);
  },
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

const TEXT = 'A memo.\n\nIts second paragraph, long enough to be a chunk of its own.';
const SPLIT: ProcessingOptions = { split: true, chunk_size: 40, chunk_overlap: 0 };

/** An uploaded memo: the same bytes, file name and options unless a test changes them. */
const memoTask = async (overrides: Partial<Task> = {}, text = TEXT) => {
  const taskId = id();
  const key = `direct/${taskId}/input`;
  await blobs.put('bucket', key, Buffer.from(text), 'text/plain');
  const now = new Date();
  const task = aTask({
    task_id: taskId,
    input: { kind: 's3', bucket: 'bucket', key },
    options: SPLIT,
    owner: 'key-a',
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
    expires_at: new Date(now.getTime() + 86400_000).toISOString(),
    ...overrides,
  });
  await store.create(task);
  return task;
};

const run = async (task: Task, overrides: Partial<WorkerDeps> = {}) => {
  const response = await makeWorkerHandler(() => deps(overrides))(sqsEvent(task.task_id), lambdaContext(60_000));
  expect(response).toEqual({ batchItemFailures: [] });
  const done = await store.get(task.task_id);
  if (!done) throw new Error(`task ${task.task_id} is gone`);
  return done;
};

const resultText = (task: Task) => {
  const object = task.result && blobs.objects.get(`${task.result.bucket}/${task.result.key}`);
  if (!object) throw new Error(`no result object for ${task.task_id}`);
  return Buffer.from(object.bytes).toString();
};

const view = (task: Task) =>
  taskDetail({ blobs, clock: { now: () => new Date() } }, task, {
    inlineLimitBytes: 1_000_000,
    resultUrlTtlSeconds: 3600,
  });

beforeAll(async () => {
  table = await startTestTable();
  store = new DynamoTaskStore(table.client, table.tableName);
  cache = new DynamoResultCache(table.client, table.tableName);
});
afterAll(async () => table.close());
beforeEach(() => {
  // A store of its own per test: no entry of one test points at an object another can read.
  blobs = new MemoryBlobStore();
  parsed = 0;
  lookups.length = 0;
});

describe('the result cache in the worker', () => {
  it('serves the same bytes, options and API key again without parsing: its own copy, the same result, cached: true', async () => {
    const first = await run(await memoTask());
    const second = await run(await memoTask());
    expect(parsed).toBe(1);
    expect(lookups).toEqual(['miss', 'hit']);
    expect(second).toMatchObject({ status: 'SUCCESS', progress: 100, stage: 'done', cached: true });
    expect(first.cached).toBeUndefined();
    // A result object of its own, under its own task, with the same bytes.
    expect(second.result?.key).toMatch(new RegExp(`^results/${second.task_id}/`));
    expect(resultText(second)).toBe(resultText(first));
    expect(second.result?.json_bytes).toBe(first.result?.json_bytes);
    expect(second.result?.headline).toEqual(first.result?.headline);
    // The view: `cached: true` and the identical result; a task not served from the cache has no `cached` at all.
    const [firstView, secondView] = (await Promise.all([view(first), view(second)])) as Array<Record<string, unknown>>;
    expect(firstView?.result).toEqual(JSON.parse(resultText(first)));
    expect(secondView).toMatchObject({ cached: true, result: firstView?.result });
    expect(firstView).not.toHaveProperty('cached');
    expect(Object.keys(secondView ?? {}).filter((name) => name !== 'cached')).toEqual(Object.keys(firstView ?? {}));
  });

  it('announces STARTED and SUCCESS for a task served from the cache, as for any other', async () => {
    await run(await memoTask());
    const task = await memoTask();
    events.sent.length = 0;
    await run(task);
    const sent = events.sent.filter(({ task: row }) => row.task_id === task.task_id);
    expect(sent.map(({ event }) => event.type)).toEqual(['task.started', 'task.succeeded']);
    expect(sent.at(-1)?.task.cached).toBe(true);
  });

  it('never serves one API key the result of another', async () => {
    await run(await memoTask({ owner: 'key-a' }));
    const other = await run(await memoTask({ owner: 'key-b' }));
    expect(parsed).toBe(2);
    expect(other.cached).toBeUndefined();
    expect(lookups).toEqual(['miss', 'miss']);
  });

  it.each<[string, Partial<Task>, string?]>([
    ['other options', { options: { ...SPLIT, chunk_size: 41 } }],
    ['a structure option given, even at its default', { options: { ...SPLIT, output_format: 'text' } }],
    ['other bytes', {}, `${TEXT}!`],
    ['another file name (it is in the metadata)', { source: { type: 'upload', filename: 'other.txt', size_bytes: 5 } }],
    [
      'another declared content type',
      { source: { type: 'upload', filename: 'memo.txt', size_bytes: 5, content_type: 'text/html' } },
    ],
  ])('parses again for %s', async (_, overrides, text) => {
    await run(await memoTask());
    const changed = await run(await memoTask(overrides, text));
    expect(parsed).toBe(2);
    expect(changed.cached).toBeUndefined();
  });

  it('skips the lookup with no_cache, records the fresh result, and keys other requests as before', async () => {
    const first = await run(await memoTask());
    const fresh = await run(await memoTask({ options: { ...SPLIT, no_cache: true } }));
    expect(parsed).toBe(2);
    expect(fresh.cached).toBeUndefined();
    expect(lookups).toEqual(['miss']);
    // no_cache is not part of the key: the next request without it is served the fresh result.
    const next = await run(await memoTask());
    expect(parsed).toBe(2);
    expect(next.cached).toBe(true);
    expect(resultText(next)).toBe(resultText(first));
    expect(next.result?.key).toMatch(new RegExp(`^results/${next.task_id}/`));
  });

  it('parses again once the entry is past its time, even before DynamoDB removes it', async () => {
    await run(await memoTask());
    const later = new Date(Date.now() + (TTL_SECONDS + 60) * 1000);
    const task = await memoTask();
    const done = await run(task, { clock: { now: () => later } });
    expect(parsed).toBe(2);
    expect(done.cached).toBeUndefined();
    expect(lookups).toEqual(['miss', 'miss']);
  });

  it('parses again when the result the entry points at is gone', async () => {
    const first = await run(await memoTask());
    await blobs.delete(first.result!.bucket, first.result!.key);
    const second = await run(await memoTask());
    expect(parsed).toBe(2);
    expect(second).toMatchObject({ status: 'SUCCESS' });
    expect(second.cached).toBeUndefined();
    // …and the fresh result is the entry now.
    const third = await run(await memoTask());
    expect(parsed).toBe(2);
    expect(third.cached).toBe(true);
    expect(resultText(third)).toBe(resultText(second));
  });

  it('finishes the task when the entry cannot be recorded', async () => {
    const failing: ResultCache = {
      get: async () => undefined,
      put: async () => {
        throw Object.assign(new Error('injected: throttled'), { name: 'ProvisionedThroughputExceededException' });
      },
    };
    const done = await run(await memoTask(), { resultCache: failing });
    expect(done).toMatchObject({ status: 'SUCCESS' });
    expect(resultText(done)).toContain('A memo.');
  });

  it('parses the document when the cache cannot be read or the copy fails', async () => {
    await run(await memoTask());
    const unreadable: ResultCache = {
      get: async () => {
        throw new Error('injected: DynamoDB unavailable');
      },
      put: async () => undefined,
    };
    const first = await run(await memoTask(), { resultCache: unreadable });
    expect(first).toMatchObject({ status: 'SUCCESS' });
    expect(first.cached).toBeUndefined();
    const refusing = Object.assign(Object.create(MemoryBlobStore.prototype) as MemoryBlobStore, blobs, {
      copy: async () => {
        throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
      },
    });
    const second = await run(await memoTask(), { blobs: refusing });
    expect(second).toMatchObject({ status: 'SUCCESS' });
    expect(second.cached).toBeUndefined();
    expect(parsed).toBe(3);
  });

  it('is off with a TTL of 0: nothing looked up, nothing recorded', async () => {
    const off = { ...config, RESULT_CACHE_TTL_SECONDS: 0 };
    const recorded: CacheEntry[] = [];
    const watching: ResultCache = {
      get: (key) => cache.get(key),
      put: async (key, entry) => {
        recorded.push(entry);
        await cache.put(key, entry);
      },
    };
    await run(await memoTask({}, 'Cache off.'), { config: off, resultCache: watching });
    const again = await run(await memoTask({}, 'Cache off.'), { config: off, resultCache: watching });
    expect(parsed).toBe(2);
    expect(again.cached).toBeUndefined();
    expect(recorded).toEqual([]);
    expect(lookups).toEqual([]);
  });

  it('does not give a result to a task cancelled while it was served from the cache', async () => {
    await run(await memoTask());
    const task = await memoTask();
    // The cancel lands while the copy is made, after the claim.
    const cancelling = Object.assign(Object.create(MemoryBlobStore.prototype) as MemoryBlobStore, blobs, {
      copy: async (bucket: string, from: string, to: string) => {
        const copied = await blobs.copy(bucket, from, to);
        await store.transition(task, 'cancel', { finished_at: new Date().toISOString() });
        return copied;
      },
    });
    const done = await run(task, { blobs: cancelling });
    expect(done.status).toBe('REVOKED');
    expect(done).not.toHaveProperty('result');
    expect(blobs.keys(`results/${task.task_id}/`)).toEqual([]);
  });
});

describe('result cache entries in the task table', () => {
  it('are items of their own under cache#, with the TTL attribute, and in no listing', async () => {
    const first = await run(await memoTask({ owner: 'key-listed' }));
    await run(await memoTask({ owner: 'key-listed' }));
    const listed = await store.list({ owner: 'key-listed', limit: 10 });
    expect(listed.tasks.map((task) => task.task_id).sort()).toHaveLength(2);
    expect(listed.tasks.every((task) => typeof task.status === 'string')).toBe(true);
    await cache.put('abc', { result: first.result!, expires_at: '2030-01-01T00:00:00.000Z' });
    const { Item } = await table.client.send(
      new GetCommand({ TableName: table.tableName, Key: { [TABLE.partitionKey]: 'cache#abc' } }),
    );
    expect(Item).toMatchObject({
      [TABLE.partitionKey]: 'cache#abc',
      [TABLE.ttlAttribute]: Date.parse('2030-01-01T00:00:00.000Z') / 1000,
      cached_result: first.result,
    });
    expect(await cache.get('abc')).toEqual({ result: first.result, expires_at: '2030-01-01T00:00:00.000Z' });
    expect(await cache.get('nothing')).toBeUndefined();
  });
});

describe('no_cache on the routes', () => {
  const aws = mockedAws();
  const api = () => apiTestDeps(aws);
  beforeEach(() => {
    aws.ddbMock.reset();
    aws.s3Mock.reset();
    aws.sqsMock.reset();
    aws.ddbMock.on(PutCommand).resolves({});
    aws.s3Mock.on(PutObjectCommand).resolves({});
    aws.s3Mock.on(HeadObjectCommand).resolves({ ContentLength: 10 });
    aws.sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  });
  const storedOptions = () =>
    (aws.ddbMock.commandCalls(PutCommand).at(-1)?.args[0].input.Item as { options: unknown }).options;
  const json = (body: unknown) => ({ body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const uploadForm = (fields: Record<string, string>) => {
    const { body, contentType } = multipart([
      { name: 'file', value: 'hello', filename: 'memo.txt', contentType: 'text/plain' },
      ...Object.entries(fields).map(([name, value]) => ({ name, value })),
    ]);
    return apiEvent({ body, headers: { 'content-type': contentType } });
  };

  it('is taken by upload (a form field), process and upload-url (JSON), and kept with the task', async () => {
    expect((await makeUploadHandler(api)(uploadForm({ no_cache: 'true' }), lambdaContext())).statusCode).toBe(202);
    expect(storedOptions()).toEqual({ split: false, chunk_size: 1000, chunk_overlap: 200, no_cache: true });
    const processed = await makeProcessHandler(api)(
      apiEvent(json({ source: 's3://docs-bucket/inbox/memo.txt', no_cache: true })),
      lambdaContext(),
    );
    expect(processed.statusCode).toBe(202);
    expect(storedOptions()).toMatchObject({ no_cache: true });
    const presigned = await makeUploadUrlHandler(api)(
      apiEvent(json({ filename: 'big.pdf', size_bytes: 100, no_cache: true })),
      lambdaContext(),
    );
    expect(presigned.statusCode).toBe(201);
    expect(storedOptions()).toMatchObject({ no_cache: true });
  });

  it('false is the same request as none: the task and its view stay as before', async () => {
    await makeUploadHandler(api)(uploadForm({ no_cache: 'false' }), lambdaContext());
    expect(storedOptions()).toEqual({ split: false, chunk_size: 1000, chunk_overlap: 200 });
    await makeProcessHandler(api)(
      apiEvent(json({ source: 's3://docs-bucket/inbox/memo.txt', no_cache: false })),
      lambdaContext(),
    );
    expect(storedOptions()).toEqual({ split: false, chunk_size: 1000, chunk_overlap: 200 });
  });

  it('is refused when it is not a boolean, naming the field', async () => {
    const response = await makeProcessHandler(api)(
      apiEvent(json({ source: 's3://docs-bucket/inbox/memo.txt', no_cache: 'sometimes' })),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).error.message).toContain('no_cache');
  });

  it('is accepted and changes nothing on preview, which stores nothing and so caches nothing', async () => {
    const preview = makePreviewHandler(() => ({
      config: previewEnvironmentSchema.parse({ RESULT_INLINE_LIMIT_BYTES: '4194304', SANDBOX_MEMORY_MB: '512' }),
      blobs: new MemoryBlobStore(),
      fetchSource: fetchUrl,
      processDocument: processInSandbox,
    }));
    const answer = async (fields: Record<string, string>) => {
      const event = uploadForm(fields);
      const response = await preview({ ...event, path: '/documents/preview' }, lambdaContext());
      expect(response.statusCode).toBe(200);
      return bodyOf(response);
    };
    expect(await answer({ no_cache: 'true', split: 'true' })).toEqual(await answer({ split: 'true' }));
  });
});
