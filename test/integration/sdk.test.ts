import { createHash } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DocprocClient,
  DocprocError,
  parseWebhook,
  verifyWebhook,
  type SubmittedTask,
  type Task,
  type TaskPage,
} from '../../sdk/index.js';
import { corpusPath } from '../support/corpus.js';
import { isRemote, startFixtureServer, startTarget, type Target } from '../support/target.js';

/**
 * The SDK against the embedded stack: every method once, the presigned
 * switch for a 12 MB PDF with the uploading process's memory measured, a
 * submission whose first answer is lost, batches, and a real webhook
 * delivery verified. Results above 100 KB are linked rather than inlined
 * here, so that `getResult` is seen reading `result_url`.
 */
const KEYS = ['sdk-key-main', 'sdk-key-retried', 'sdk-key-memory', 'sdk-key-batch'];
const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

let target: Target;
let fixtures: Awaited<ReturnType<typeof startFixtureServer>>;
let client: DocprocClient;
let s3: S3Client;
let scratch: string;

beforeAll(async () => {
  if (isRemote()) return;
  fixtures = await startFixtureServer();
  target = await startTarget({ apiKeys: KEYS, config: { resultInlineLimitMb: 0.1 } });
  client = new DocprocClient({ baseUrl: target.apiUrl, apiKey: KEYS[0] });
  s3 = new S3Client({
    endpoint: target.local!.s3Endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    forcePathStyle: true,
  });
  scratch = mkdtempSync(join(tmpdir(), 'docproc-sdk-'));
});
afterAll(async () => {
  s3?.destroy();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  await fixtures?.close();
  await target?.stop();
});

const allPages = async (pages: AsyncIterable<TaskPage>): Promise<TaskPage[]> => {
  const seen: TaskPage[] = [];
  for await (const page of pages) seen.push(page);
  return seen;
};

/**
 * fake-memo.pdf grown to `bytes` by an incremental update: an unreferenced
 * padding stream, a new xref section and a trailer whose /Prev is the
 * original's. A valid PDF that any reader opens as the one-page memo.
 */
const paddedPdf = (bytes: number): Buffer => {
  const original = readFileSync(corpusPath('pdf/fake-memo.pdf'));
  const tail = original.subarray(-1024).toString('latin1');
  const prev = Number(/startxref\s+(\d+)\s+%%EOF\s*$/.exec(tail)?.[1]);
  const trailer = /trailer\s*<<([\s\S]*?)>>\s*startxref/.exec(tail)?.[1] ?? '';
  const root = /\/Root\s+(\d+\s+\d+\s+R)/.exec(trailer)?.[1];
  const size = Number(/\/Size\s+(\d+)/.exec(trailer)?.[1]);
  if (!root || !size || !prev) throw new Error('fake-memo.pdf no longer ends with a classic trailer');
  const objectAt = original.length + 1;
  const build = (paddingLength: number) => {
    const object = Buffer.concat([
      Buffer.from(`\n${size} 0 obj\n<< /Length ${paddingLength} >>\nstream\n`, 'latin1'),
      Buffer.alloc(paddingLength, 0x20),
      Buffer.from('\nendstream\nendobj\n', 'latin1'),
    ]);
    const xrefAt = original.length + object.length;
    const update = Buffer.from(
      `xref\n0 1\n0000000000 65535 f \n${size} 1\n${String(objectAt).padStart(10, '0')} 00000 n \n` +
        `trailer\n<< /Size ${size + 1} /Root ${root} /Prev ${prev} >>\nstartxref\n${xrefAt}\n%%EOF\n`,
      'latin1',
    );
    return Buffer.concat([original, object, update]);
  };
  // Built twice: the first tells how much the objects around the padding take.
  const guess = bytes - original.length;
  return build(guess - (build(guess).length - bytes));
};

/**
 * Submits a file from a process of its own (the embedded stack shares this
 * one, and its S3 emulator holds what it receives) and reports how far that
 * process's resident memory rose above what it was just before the
 * submission, sampled every 5 ms and at the end. `buffered`: the file is read
 * into memory first and its bytes submitted, the comparison that shows what
 * the measurement would see if the SDK held the file.
 *
 * `pace`: a full collection before each sample. Left alone, V8 collects
 * buffers only after tens of megabytes of them have been allocated, so the
 * peak says when the collector ran (about 24 MiB for this upload, whether
 * those chunks are held or long dropped), not what the upload holds; paced,
 * the peak is what is still referenced, which is what streaming bounds.
 */
const submitFromChild = async (path: string, warmFile: string, mode: 'path' | 'buffered', pace: boolean) => {
  const script = `
    const [sdkUrl, baseUrl, apiKey, path, warmPath, mode, pace] = process.argv.slice(1);
    const { DocprocClient } = await import(sdkUrl);
    const { readFile } = await import('node:fs/promises');
    const client = new DocprocClient({ baseUrl, apiKey });
    // The same route once with a 4 MB file first: fetch, streams and the SDK loaded, and their hot paths
    // compiled, before the baseline (the optimising compiler's memory is not the upload's).
    await new DocprocClient({ baseUrl, apiKey, directUploadLimit: 0 }).submitFile(warmPath);
    // Collected three times and given time, so that what the warm-up freed has left the resident set before the
    // baseline (pages the allocator hands back later would hide part of the growth).
    for (let round = 0; round < 3; round++) {
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => {
      if (pace === 'gc') globalThis.gc();
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    const input = mode === 'buffered' ? await readFile(path) : path;
    const submitted = await client.submitFile(input, { filename: 'padded-memo.pdf' });
    peak = Math.max(peak, process.memoryUsage().rss);
    clearInterval(sampler);
    console.log(JSON.stringify({ submitted, base, growth: peak - base }));
  `;
  const { stdout } = await run(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      script,
      pathToFileURL(join(ROOT, 'sdk/index.ts')).href,
      target.apiUrl,
      KEYS[2]!,
      path,
      warmFile,
      mode,
      pace ? 'gc' : 'none',
    ],
    { cwd: ROOT, timeout: 120_000 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as { submitted: SubmittedTask; base: number; growth: number };
};

describe.skipIf(isRemote())('SDK against the embedded stack', () => {
  it('submitFile (small: multipart), waitForTask with progress, getTask, getResult inline', async () => {
    const submitted = await client.submitFile(corpusPath('pdf/fake-memo.pdf'), { split: true, chunk_size: 500 });
    expect(submitted).toMatchObject({ status: 'PENDING', replayed: false, route: 'upload' });

    const seen: Task[] = [];
    const task = await client.waitForTask(submitted.task_id, { onProgress: (update) => seen.push(update) });
    expect(task).toMatchObject({ status: 'SUCCESS', progress: 100, source: { filename: 'fake-memo.pdf' } });
    expect(task.options).toMatchObject({ split: true, chunk_size: 500 });
    expect(seen.at(-1)?.status).toBe('SUCCESS');

    expect(await client.getTask(submitted.task_id)).toMatchObject({ task_id: submitted.task_id, status: 'SUCCESS' });
    const result = await client.getResult(task);
    expect(result.documents[0]?.page_content).toMatch(/^May 5, 2023/);
    expect(result.documents[0]?.metadata).toMatchObject({ filename: 'fake-memo.pdf', chunk_index: 0 });
  });

  it('figures: submitFile with figures=refs, each figure fetched by getFigure, its bytes as its sha256 says', async () => {
    const submitted = await client.submitFile(corpusPath('docx/contains-pictures.docx'), { figures: 'refs' });
    const task = await client.waitForTask(submitted.task_id);
    const result = await client.getResult(task);
    expect(result.stats?.figures).toBeGreaterThan(0);
    expect(result.figures).toHaveLength(result.stats?.figures ?? -1);
    for (const figure of result.figures ?? []) {
      const { mediaType, bytes } = await client.getFigure(task.task_id, figure.id);
      expect(mediaType).toBe(figure.media_type);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(figure.sha256);
    }
    await expect(client.getFigure(task.task_id, 'fig-0000000000000000')).rejects.toMatchObject({
      code: 'FIGURE_NOT_FOUND',
    });
  });

  it('getResult reads result_url when the result is too large to inline', async () => {
    const text = 'A sentence of a long plain text document, repeated well past the inline limit. '.repeat(3000);
    const submitted = await client.submitFile(Buffer.from(text), { filename: 'long.txt' });
    const task = await client.waitForTask(submitted.task_id);
    expect(task.result?.documents).toBeUndefined();
    expect(task.result?.result_url).toMatch(/^http/);
    const result = await client.getResult(submitted.task_id);
    expect(result.documents).toHaveLength(task.result!.document_count);
    expect(result.documents[0]!.page_content.length).toBeGreaterThan(200_000);
    expect(result.documents[0]!.page_content.startsWith('A sentence of a long plain text')).toBe(true);
  });

  it('submitFile streams a 12 MB PDF through the presigned route, its memory bounded', async () => {
    const path = join(scratch, 'padded-memo.pdf');
    const size = 12 * 1024 * 1024;
    writeFileSync(path, paddedPdf(size));

    const warm = join(scratch, 'warm.txt');
    writeFileSync(warm, 'Text that warms the upload path up. '.repeat((4 * 2 ** 20) / 36));
    const streamed = await submitFromChild(path, warm, 'path', true);
    const buffered = await submitFromChild(path, warm, 'buffered', true);
    const raw = await submitFromChild(path, warm, 'path', false);
    const rawBuffered = await submitFromChild(path, warm, 'buffered', false);
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    console.log(
      `12 MB presigned upload, peak RSS growth: streamed ${mib(streamed.growth)} (collected as it goes), ` +
        `${mib(raw.growth)} (collector left alone); buffered ${mib(buffered.growth)}, ${mib(rawBuffered.growth)}`,
    );

    expect(streamed.submitted).toMatchObject({ route: 'upload-url', status: 'AWAITING_UPLOAD' });
    // The measurement sees a file held in memory (the buffered run grows by at least its size: 36-49 MiB)…
    expect(buffered.growth).toBeGreaterThan(size);
    // …and the SDK's own run stays far below it: the chunks in flight, not the file (0.2-3.3 MiB measured;
    // half the file leaves room for a slow, loaded machine and still fails if the file were held).
    expect(streamed.growth).toBeLessThan(size / 2);

    const task = await new DocprocClient({ baseUrl: target.apiUrl, apiKey: KEYS[2] }).waitForTask(
      streamed.submitted.task_id,
      { timeoutMs: 120_000 },
    );
    expect(task).toMatchObject({ status: 'SUCCESS', source: { type: 'presigned', size_bytes: size } });
    expect(task.result?.documents?.[0]?.page_content).toMatch(/^May 5, 2023/);
  });

  it('a submission whose first answer is lost is sent again and returns the same task', async () => {
    const keys: string[] = [];
    let lost = 0;
    const flaky = new DocprocClient({
      baseUrl: target.apiUrl,
      apiKey: KEYS[1],
      retry: { baseDelayMs: 10 },
      // The request reaches the service; its answer never reaches the client.
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (init?.method === 'POST') {
          keys.push(new Headers(init.headers).get('idempotency-key')!);
          if (lost++ === 0) {
            await response.body?.cancel();
            throw new TypeError('fetch failed', {
              cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
            });
          }
        }
        return response;
      },
    });
    const submitted = await flaky.submitUrl(`${fixtures.url}/corpus/text/norwich-city.txt`);
    expect(submitted.replayed).toBe(true);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);

    const owned = (await allPages(flaky.listTasks())).flatMap((page) => page.tasks);
    expect(owned.map((task) => task.task_id)).toEqual([submitted.task_id]);
    expect((await flaky.waitForTask(submitted.task_id)).status).toBe('SUCCESS');
  });

  it('a batch submission whose first answer is lost is sent again and returns the same batch', async () => {
    const keys: string[] = [];
    const answers: number[] = [];
    let lost = 0;
    const flaky = new DocprocClient({
      baseUrl: target.apiUrl,
      apiKey: KEYS[3],
      retry: { baseDelayMs: 10 },
      // The request reaches the service; its first answer never reaches the client.
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (init?.method === 'POST' && (input instanceof Request ? input.url : input.toString()).endsWith('/batches')) {
          keys.push(new Headers(init.headers).get('idempotency-key')!);
          answers.push(response.status);
          if (lost++ === 0) {
            await response.body?.cancel();
            throw new TypeError('fetch failed', {
              cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
            });
          }
        }
        return response;
      },
    });
    const batch = await flaky.createBatch([`${fixtures.url}/corpus/text/norwich-city.txt`]);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    // The first request made the batch; the repeat is answered with it (200), not a second one (202).
    expect(answers).toEqual([202, 200]);
    const done = await flaky.waitForBatch(batch.batch_id, { pollIntervalMs: 100, timeoutMs: 60_000 });
    expect(done).toMatchObject({ batch_id: batch.batch_id, status: 'COMPLETED', source: { type: 'list', count: 1 } });
    // One batch, one task, under this key.
    const owned = (await allPages(flaky.listTasks())).flatMap((page) => page.tasks);
    expect(owned).toHaveLength(1);
  });

  it('submitUrl, submitS3, listTasks paging through next_token', async () => {
    const byUrl = await client.submitUrl(`${fixtures.url}/corpus/html/fake-html.html`, { output_format: 'markdown' });
    expect(byUrl).toMatchObject({ route: 'process', replayed: false });
    await s3.send(
      new PutObjectCommand({
        Bucket: target.local!.bucketName,
        Key: 'inbox/sdk/memo.txt',
        Body: 'An object already in the bucket.',
        ContentType: 'text/plain',
      }),
    );
    const byS3 = await client.submitS3(`s3://${target.local!.bucketName}/inbox/sdk/memo.txt`);
    const fromS3 = await client.waitForTask(byS3.task_id);
    expect(fromS3).toMatchObject({ status: 'SUCCESS', source: { type: 's3' } });
    expect((await client.waitForTask(byUrl.task_id)).status).toBe('SUCCESS');

    const pages = await allPages(client.listTasks({ limit: 1 }));
    expect(pages.length).toBeGreaterThanOrEqual(4);
    expect(pages.every((page) => page.tasks.length <= 1)).toBe(true);
    expect(pages.at(-1)?.next_token).toBeUndefined();
    const ids = pages.flatMap((page) => page.tasks.map((task) => task.task_id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining([byUrl.task_id, byS3.task_id]));
    const successes = await allPages(client.listTasks({ status: 'SUCCESS' }));
    expect(successes.flatMap((page) => page.tasks).every((task) => task.status === 'SUCCESS')).toBe(true);
  });

  it('a file over the deployment’s direct limit falls back from a 413 to the presigned route', async () => {
    // The client believes 4 MB go directly; this 5 MB file gets the gateway's 413, then goes presigned.
    const bigger = new DocprocClient({ baseUrl: target.apiUrl, apiKey: KEYS[0], directUploadLimit: 6 * 2 ** 20 });
    const submitted = await bigger.submitFile(Buffer.alloc(5 * 2 ** 20, 'plain text. '), { filename: 'five.txt' });
    expect(submitted).toMatchObject({ route: 'upload-url' });
  });

  it('createUploadUrl, cancel and retry, getTask errors typed', async () => {
    const held = await client.submitUrl(`${fixtures.url}/hold/sdk-cancel`);
    const fetching = async () => {
      while (!fixtures.isHeld('sdk-cancel')) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    await fetching();
    const cancelled = await client.cancel(held.task_id);
    expect(cancelled).toMatchObject({ task_id: held.task_id, status: 'REVOKED' });
    fixtures.release('sdk-cancel');

    const retried = await client.retry(held.task_id);
    expect(retried).toMatchObject({ status: 'PENDING', attempts: 2 });
    // The new attempt fetches the held URL again: let it through at once.
    await fetching();
    fixtures.release('sdk-cancel');
    expect(await client.waitForTask(held.task_id)).toMatchObject({ status: 'SUCCESS', attempts: 2 });

    const waiting = await client.createUploadUrl('later.pdf', 100, { split: true });
    expect(waiting).toMatchObject({ status: 'AWAITING_UPLOAD', upload: { method: 'PUT' }, replayed: false });
    expect((await client.cancel(waiting.task_id)).status).toBe('REVOKED');

    const missing = await client.getTask('00000000-0000-4000-8000-000000000000').catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(DocprocError);
    expect(missing).toMatchObject({ code: 'TASK_NOT_FOUND', status: 404, retryable: false });
    const conflict = await client.cancel(held.task_id).catch((error: unknown) => error);
    expect(conflict).toMatchObject({ code: 'TASK_NOT_CANCELLABLE', status: 409, attempts: 1 });
  });

  it('batches: create, get, list its tasks, wait, retry its failures, cancel another', async () => {
    const batch = await client.createBatch(
      [`${fixtures.url}/corpus/text/norwich-city.txt`, `${fixtures.url}/corpus/no-such-file.txt`],
      { split: true },
    );
    expect(batch).toMatchObject({
      status: expect.stringMatching(/LISTING|RUNNING/),
      source: { type: 'list', count: 2 },
    });
    expect((await client.getBatch(batch.batch_id)).batch_id).toBe(batch.batch_id);

    const progress: string[] = [];
    const done = await client.waitForBatch(batch.batch_id, {
      pollIntervalMs: 100,
      timeoutMs: 60_000,
      onProgress: (update) => progress.push(update.status),
    });
    expect(done).toMatchObject({ status: 'COMPLETED_WITH_ERRORS', counts: { SUCCESS: 1, FAILURE: 1 } });
    expect(progress.at(-1)).toBe('COMPLETED_WITH_ERRORS');

    const tasks = (await allPages(client.listBatchTasks(batch.batch_id, { limit: 1 }))).flatMap((page) => page.tasks);
    expect(tasks.map((task) => task.status).sort()).toEqual(['FAILURE', 'SUCCESS']);
    const failed = (await allPages(client.listBatchTasks(batch.batch_id, { status: 'FAILURE' }))).flatMap(
      (page) => page.tasks,
    );
    expect(failed).toHaveLength(1);

    expect(await client.retryBatch(batch.batch_id)).toMatchObject({ retrying: 1 });

    const held = await client.createBatch([`${fixtures.url}/hold/sdk-batch`]);
    expect(await client.cancelBatch(held.batch_id)).toMatchObject({ status: 'REVOKED' });
    fixtures.release('sdk-batch');
  });

  it('verifies a real webhook delivery; deliveries listed and redelivered', async () => {
    const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
    const receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const submitted = await client.submitFile(Buffer.from('Announced by webhook.'), {
        filename: 'memo.txt',
        callback_url: url,
        callback_events: ['task.succeeded'],
      });
      await client.waitForTask(submitted.task_id);
      const arrived = async (count: number) => {
        while (received.length < count) await new Promise((resolve) => setTimeout(resolve, 50));
        return received[count - 1]!;
      };
      const delivery = await arrived(1);
      const secret = target.local!.webhookSecret;

      expect(verifyWebhook(secret, delivery.headers, delivery.body)).toBe(true);
      const event = parseWebhook(secret, delivery.headers, delivery.body);
      expect(event).toMatchObject({ type: 'task.succeeded', data: { task_id: submitted.task_id, status: 'SUCCESS' } });
      expect(verifyWebhook(secret, delivery.headers, delivery.body.replace('SUCCESS', 'FAILURE'))).toBe(false);
      expect(verifyWebhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, delivery.headers, delivery.body)).toBe(
        false,
      );

      const [logged] = await client.listDeliveries(submitted.task_id);
      expect(logged).toMatchObject({ event_type: 'task.succeeded', webhook_id: delivery.headers['webhook-id'] });
      await client.redeliver(submitted.task_id, logged!.delivery_id);
      const again = await arrived(2);
      expect(again.headers['webhook-id']).toBe(delivery.headers['webhook-id']);
      expect(verifyWebhook(secret, again.headers, again.body)).toBe(true);
    } finally {
      receiver.close();
    }
  });
});
