import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, isRemote, startFixtureServer, startTarget, type Api, type Target } from '../support/target.js';

/**
 * Batches end to end on the embedded stack: a list of good and failing
 * sources, a prefix listed in several pages (a page of 40 here), listing by
 * status, retry of the failures only, cancel, and another key's view.
 */
const KEYS = ['batch-key-one', 'batch-key-two'];

let target: Target;
let api: Api;
let other: Api;
let fixtures: Awaited<ReturnType<typeof startFixtureServer>>;
let s3: S3Client;
let bucket: string;

beforeAll(async () => {
  if (isRemote()) return;
  fixtures = await startFixtureServer();
  target = await startTarget({ apiKeys: KEYS, timing: { batchPageSize: 40 } });
  api = apiClient(target);
  other = apiClient({ ...target, headers: { 'x-api-key': KEYS[1]! } });
  const local = target.local!;
  bucket = local.bucketName;
  s3 = new S3Client({
    endpoint: local.s3Endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    forcePathStyle: true,
  });
});
afterAll(async () => {
  s3?.destroy();
  await fixtures?.close();
  await target?.stop();
});

type BatchView = Record<string, any> & { counts: Record<string, number> };

const getBatch = async (client: Api, id: string): Promise<BatchView> => {
  const response = await client.get(`/batches/${id}`);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as BatchView;
};

const waitForBatch = async (id: string, statuses: string[], timeoutMs = 90_000): Promise<BatchView> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await getBatch(api, id);
    if (statuses.includes(batch.status as string)) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.status}: ${JSON.stringify(batch.counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};

/** Every task of a batch, following next_token to the end. */
const allTasks = async (id: string, status?: string): Promise<Array<Record<string, any>>> => {
  const tasks: Array<Record<string, any>> = [];
  let token: string | undefined;
  do {
    const query = new URLSearchParams({
      limit: '100',
      ...(status ? { status } : {}),
      ...(token ? { next_token: token } : {}),
    });
    const response = await api.get(`/batches/${id}/tasks?${query.toString()}`);
    expect(response.status).toBe(200);
    const page = (await response.json()) as { tasks: Array<Record<string, any>>; next_token?: string };
    tasks.push(...page.tasks);
    token = page.next_token;
  } while (token);
  return tasks;
};

const put = (key: string, body: string) =>
  s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'text/plain' }));

describe.skipIf(isRemote())('batches', () => {
  let mixed: string;

  it('runs a list of good and failing sources to COMPLETED_WITH_ERRORS with exact counts', async () => {
    await put('inbox/mixed/memo.txt', 'A memo read from the inbox.');
    await put('inbox/mixed/broken.pdf', '%PDF-1.7\nnot really a PDF at all');
    const response = await api.postJson('/batches', {
      sources: [
        `${fixtures.url}/corpus/text/fake-text.txt`,
        `s3://${bucket}/inbox/mixed/memo.txt`,
        `${fixtures.url}/missing-document.txt`,
        `s3://${bucket}/inbox/mixed/broken.pdf`,
        `${fixtures.url}/corpus/html/fake-html.html`,
      ],
      split: true,
      chunk_size: 200,
      chunk_overlap: 0,
    });
    expect(response.status, await response.clone().text()).toBe(202);
    const created = (await response.json()) as BatchView;
    expect(created).toMatchObject({ status: 'LISTING', total: 5 });
    mixed = created.batch_id as string;

    const done = await waitForBatch(mixed, ['COMPLETED', 'COMPLETED_WITH_ERRORS']);
    expect(done).toMatchObject({
      status: 'COMPLETED_WITH_ERRORS',
      total: 5,
      counts: { PENDING: 0, STARTED: 0, SUCCESS: 3, FAILURE: 2, REVOKED: 0 },
      finished_at: expect.any(String),
    });
    const failed = await allTasks(mixed, 'FAILURE');
    expect(failed.map((task) => task.source.uri ?? task.source.url).sort()).toEqual(
      [`${fixtures.url}/missing-document.txt`, `s3://${bucket}/inbox/mixed/broken.pdf`].sort(),
    );
    const tasks = await allTasks(mixed);
    expect(tasks).toHaveLength(5);
    // Each is an ordinary task, with the batch's options.
    const memo = tasks.find((task) => task.source.uri === `s3://${bucket}/inbox/mixed/memo.txt`)!;
    const single = (await (await api.get(`/tasks/${memo.task_id}`)).json()) as Record<string, any>;
    expect(single).toMatchObject({ status: 'SUCCESS', options: { split: true, chunk_size: 200 } });
    expect(single.result.documents[0].page_content).toBe('A memo read from the inbox.');
  });

  it('retries only the failed tasks, as new attempts', async () => {
    const response = await api.post(`/batches/${mixed}/retry`);
    expect(response.status, await response.clone().text()).toBe(202);
    expect(await response.json()).toMatchObject({ retrying: 2 });
    // Attempts show the retry went through; the batch settles again with the same failures.
    const deadline = Date.now() + 60_000;
    let tasks = await allTasks(mixed);
    while (tasks.some((task) => task.status === 'FAILURE' && task.attempts === 1) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      tasks = await allTasks(mixed);
    }
    const done = await waitForBatch(mixed, ['COMPLETED_WITH_ERRORS']);
    expect(done.counts).toEqual({ PENDING: 0, STARTED: 0, SUCCESS: 3, FAILURE: 2, REVOKED: 0 });
    tasks = await allTasks(mixed);
    const attempts = Object.fromEntries(tasks.map((task) => [task.source.uri ?? task.source.url, task.attempts]));
    expect(Object.values(attempts).sort()).toEqual([1, 1, 1, 2, 2]);
    for (const task of tasks.filter((candidate) => candidate.status === 'SUCCESS')) expect(task.attempts).toBe(1);
  });

  it('lists a prefix over several pages: one task per object, none twice, none lost', async () => {
    const count = 130;
    for (let start = 0; start < count; start += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, count - start) }, (_, offset) => {
          const index = start + offset;
          return put(`inbox/bulk/doc-${String(index).padStart(4, '0')}.txt`, `Document number ${index}.`);
        }),
      );
    }
    const response = await api.postJson('/batches', { source: `s3://${bucket}/inbox/bulk/` });
    expect(response.status, await response.clone().text()).toBe(202);
    const created = (await response.json()) as BatchView;
    expect(created).toMatchObject({ status: 'LISTING', total: null });
    const done = await waitForBatch(created.batch_id as string, ['COMPLETED', 'COMPLETED_WITH_ERRORS'], 120_000);
    expect(done).toMatchObject({ status: 'COMPLETED', total: count, listed: count });
    expect(done.counts).toEqual({ PENDING: 0, STARTED: 0, SUCCESS: count, FAILURE: 0, REVOKED: 0 });
    const tasks = await allTasks(created.batch_id as string);
    expect(tasks).toHaveLength(count);
    expect(new Set(tasks.map((task) => task.task_id)).size).toBe(count);
    expect(new Set(tasks.map((task) => task.source.uri)).size).toBe(count);
    // In listing order (S3's key order).
    expect(tasks.map((task) => task.source.filename)).toEqual(
      Array.from({ length: count }, (_, index) => `doc-${String(index).padStart(4, '0')}.txt`),
    );
  });

  it('cancels a running batch: nothing is left PENDING or STARTED', async () => {
    const sources = Array.from({ length: 12 }, (_, index) => `${fixtures.url}/hold/batch-cancel-${index}`);
    const response = await api.postJson('/batches', { sources });
    expect(response.status).toBe(202);
    const id = ((await response.json()) as BatchView).batch_id as string;
    // Some tasks are running (held while fetching), the others queued behind them.
    const deadline = Date.now() + 30_000;
    while ((await getBatch(api, id)).counts.STARTED === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const cancelled = await api.post(`/batches/${id}/cancel`);
    expect(cancelled.status, await cancelled.clone().text()).toBe(202);
    expect(await cancelled.json()).toMatchObject({ status: 'REVOKED' });
    const settled = Date.now() + 30_000;
    let batch = await getBatch(api, id);
    while ((batch.counts.REVOKED ?? 0) < 12 && Date.now() < settled) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      batch = await getBatch(api, id);
    }
    for (let index = 0; index < 12; index++) fixtures.release(`batch-cancel-${index}`);
    expect(batch).toMatchObject({ status: 'REVOKED', counts: { PENDING: 0, STARTED: 0, REVOKED: 12 } });
    expect(await allTasks(id, 'PENDING')).toEqual([]);
    expect(await allTasks(id, 'STARTED')).toEqual([]);
    // A cancelled batch cannot be cancelled into anything else, nor retried as a whole.
    expect((await api.post(`/batches/${id}/retry`)).status).toBe(409);
  });

  it('refuses bad batches at submission, naming each bad source', async () => {
    const bad = await api.postJson('/batches', {
      sources: [
        `${fixtures.url}/corpus/text/fake-text.txt`,
        'ftp://example.com/a.pdf',
        `s3://${bucket}/results/x.json`,
      ],
    });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { details: Array<{ field: string }> } };
    expect(body.error.details.map((detail) => detail.field)).toEqual(['sources[1]', 'sources[2]']);

    expect((await api.postJson('/batches', { sources: [] })).status).toBe(400);
    expect(
      (await api.postJson('/batches', { source: `s3://${bucket}/inbox/`, sources: ['https://a.example/'] })).status,
    ).toBe(400);
    expect((await api.postJson('/batches', {})).status).toBe(400);
    expect(
      (await api.postJson('/batches', { sources: Array.from({ length: 1001 }, (_, i) => `https://a.example/${i}`) }))
        .status,
    ).toBe(400);
    expect((await api.postJson('/batches', { source: `s3://${bucket}/results/` })).status).toBe(400);
    expect((await api.postJson('/batches', { source: `s3://${bucket}/inbox/../results/` })).status).toBe(400);
    expect((await api.postJson('/batches', { source: 'https://example.com/folder/' })).status).toBe(400);
    expect((await api.get('/batches/not-an-id')).status).toBe(404);
  });

  it('hides a batch from another key, as tasks are', async () => {
    expect((await other.get(`/batches/${mixed}`)).status).toBe(404);
    expect((await other.get(`/batches/${mixed}/tasks`)).status).toBe(404);
    expect((await other.post(`/batches/${mixed}/cancel`)).status).toBe(404);
    expect((await other.post(`/batches/${mixed}/retry`)).status).toBe(404);
  });
});
