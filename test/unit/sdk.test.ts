import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { parseSigningKeys, signatureHeader } from '../../lambdas/core/webhook-signing.js';
import {
  DocprocClient,
  DocprocError,
  parseWebhook,
  verifyWebhook,
  type DocprocClientOptions,
  type Task,
} from '../../sdk/index.js';

/**
 * The SDK with its seams replaced: a scripted fetch that records every
 * request, a sleep that records the delays it was asked for, a fixed
 * random and a clock the test moves. Nothing waits for real time.
 */

const BASE = 'http://docproc.test/documents/async';

interface Sent {
  url: string;
  method: string;
  headers: Headers;
  init: RequestInit;
}

type Reply = Response | Error | ((request: Sent) => Response | Promise<Response>);

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const serviceError = (status: number, code: string, message = 'went wrong', extra: Record<string, unknown> = {}) =>
  json(status, { error: { code, message, ...extra } });

/** What Node's fetch throws: a TypeError whose cause carries the socket's code. */
const networkError = (code: string) =>
  new TypeError('fetch failed', { cause: Object.assign(new Error(`connect ${code}`), { code }) });

const task = (overrides: Partial<Task> = {}): Task => ({
  task_id: 'a1b2c3d4-0000-4000-8000-000000000001',
  status: 'PENDING',
  progress: 0,
  stage: 'queued',
  source: { type: 'url', url: 'https://example.com/a.pdf' },
  options: { split: false, chunk_size: 1000, chunk_overlap: 200 },
  attempts: 1,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  expires_at: '2026-01-08T00:00:00.000Z',
  ...overrides,
});

let sent: Sent[];
let delays: number[];
let clock: number;

/** A client whose fetch answers `replies` in order (a function reply sees the request). */
const clientWith = (replies: Reply[], options: DocprocClientOptions = {}) => {
  const queue = [...replies];
  const fake: typeof fetch = async (input, init = {}) => {
    const request = {
      url: input instanceof Request ? input.url : input.toString(),
      method: init.method ?? 'GET',
      headers: new Headers(init.headers),
      init,
    };
    sent.push(request);
    const reply = queue.shift();
    if (reply === undefined) throw new Error(`unexpected request ${request.method} ${request.url}`);
    if (reply instanceof Error) throw reply;
    return typeof reply === 'function' ? reply(request) : reply;
  };
  return new DocprocClient({
    baseUrl: BASE,
    apiKey: 'key-1',
    fetch: fake,
    sleep: async (ms) => {
      delays.push(ms);
      clock += ms;
    },
    random: () => 0.5,
    now: () => clock,
    ...options,
  });
};

const failureOf = async (promise: Promise<unknown>): Promise<DocprocError> => {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DocprocError);
  return error as DocprocError;
};

beforeEach(() => {
  sent = [];
  delays = [];
  clock = 1_800_000_000_000;
});

describe('retries', () => {
  it.each([429, 500, 502, 503, 504])('repeats a GET answered %i, then returns the answer', async (status) => {
    const client = clientWith([serviceError(status, 'INTERNAL_ERROR'), json(200, task())]);
    expect(await client.getTask('t1')).toMatchObject({ status: 'PENDING' });
    expect(sent).toHaveLength(2);
    expect(delays).toHaveLength(1);
  });

  it.each([400, 401, 404, 409, 413, 501])('does not repeat a call answered %i', async (status) => {
    const client = clientWith([serviceError(status, 'SOME_CODE')]);
    const error = await failureOf(client.getTask('t1'));
    expect(error).toMatchObject({ status, attempts: 1 });
    expect(sent).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('repeats after network errors', async () => {
    const client = clientWith([networkError('ECONNRESET'), networkError('ECONNREFUSED'), json(200, task())]);
    expect(await client.getTask('t1')).toMatchObject({ task_id: task().task_id });
    expect(sent).toHaveLength(3);
  });

  it('gives up after maxAttempts, with delays that double, are jittered and capped', async () => {
    const replies = () => Array.from({ length: 6 }, () => serviceError(503, 'INTERNAL_ERROR'));
    const client = clientWith(replies(), { retry: { maxAttempts: 6, baseDelayMs: 400, maxDelayMs: 3000 } });
    const error = await failureOf(client.getTask('t1'));
    expect(error).toMatchObject({ code: 'INTERNAL_ERROR', status: 503, retryable: true, attempts: 6 });
    expect(sent).toHaveLength(6);
    // Equal jitter at random() = 0.5: three quarters of each ceiling (400, 800, 1600, 3000, 3000).
    expect(delays).toEqual([300, 600, 1200, 2250, 2250]);

    delays = [];
    const low = clientWith(replies(), {
      retry: { maxAttempts: 6, baseDelayMs: 400, maxDelayMs: 3000 },
      random: () => 0,
    });
    await failureOf(low.getTask('t1'));
    expect(delays).toEqual([200, 400, 800, 1500, 1500]);

    delays = [];
    const high = clientWith(replies(), {
      retry: { maxAttempts: 6, baseDelayMs: 400, maxDelayMs: 3000 },
      random: () => 0.999999,
    });
    await failureOf(high.getTask('t1'));
    expect(delays).toEqual([400, 800, 1600, 3000, 3000]);
  });

  it('waits as long as Retry-After says, in seconds or as a date', async () => {
    const client = clientWith([
      json(429, { message: 'Too Many Requests' }, { 'retry-after': '7' }),
      () => json(503, { message: 'Service Unavailable' }, { 'retry-after': new Date(clock + 12_000).toUTCString() }),
      json(200, task()),
    ]);
    await client.getTask('t1');
    expect(delays).toEqual([7000, 12_000]);
  });

  it('does not wait for a Retry-After beyond maxRetryAfterMs: the caller decides', async () => {
    const client = clientWith([json(429, { message: 'Too Many Requests' }, { 'retry-after': '3600' })]);
    const error = await failureOf(client.getTask('t1'));
    expect(error).toMatchObject({ code: 'THROTTLED', status: 429, retryable: true, attempts: 1 });
    expect(delays).toEqual([]);
  });

  it('sends one Idempotency-Key on every attempt of a submission, and a new one for the next submission', async () => {
    const accepted = (status: number) => json(status, { task_id: 't1', status: 'PENDING' });
    const client = clientWith([
      networkError('ECONNRESET'),
      serviceError(502, 'INTERNAL_ERROR'),
      accepted(200),
      accepted(202),
    ]);
    const first = await client.submitUrl('https://example.com/a.pdf', { split: true });
    const second = await client.submitUrl('https://example.com/a.pdf', { split: true });
    const keys = sent.map((request) => request.headers.get('idempotency-key'));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys.slice(0, 3)).toEqual([keys[0], keys[0], keys[0]]);
    expect(keys[3]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[3]).not.toBe(keys[0]);
    expect(first).toMatchObject({ task_id: 't1', replayed: true, route: 'process' });
    expect(second).toMatchObject({ replayed: false });
    expect(JSON.parse(sent[0]!.init.body as string)).toEqual({ source: 'https://example.com/a.pdf', split: true });
  });

  it('uses the caller’s Idempotency-Key when given', async () => {
    const client = clientWith([json(202, { task_id: 't1', status: 'PENDING' })]);
    await client.submitS3('s3://bucket/inbox/a.pdf', { idempotencyKey: 'order-42' });
    expect(sent[0]!.headers.get('idempotency-key')).toBe('order-42');
  });

  it('repeats calls that are not idempotent only when the request surely did not arrive', async () => {
    const ambiguous = clientWith([networkError('ECONNRESET')]);
    expect(await failureOf(ambiguous.retry('t1'))).toMatchObject({ code: 'SERVICE_UNREACHABLE', attempts: 1 });

    const failed = clientWith([serviceError(503, 'INTERNAL_ERROR')]);
    expect(await failureOf(failed.retryBatch('b1'))).toMatchObject({ status: 503, attempts: 1 });

    sent = [];
    const unsent = clientWith([
      networkError('ECONNREFUSED'),
      json(429, { message: 'Too Many Requests' }),
      json(202, task({ attempts: 2 })),
    ]);
    expect(await unsent.retry('t1')).toMatchObject({ attempts: 2 });
    expect(sent).toHaveLength(3);
  });

  it('sends one Idempotency-Key on every attempt of a batch, a new one per call, the caller’s when given', async () => {
    const batch = { batch_id: 'b1', status: 'LISTING' };
    const client = clientWith([
      networkError('ECONNRESET'),
      serviceError(503, 'INTERNAL_ERROR'),
      json(200, batch),
      json(202, { ...batch, batch_id: 'b2' }),
      json(202, { ...batch, batch_id: 'b3' }),
    ]);
    expect(await client.createBatch(['https://example.com/a.pdf'])).toMatchObject({ batch_id: 'b1' });
    await client.createBatch(['https://example.com/a.pdf']);
    await client.createBatch('s3://bucket/inbox/', { idempotencyKey: 'batch-key-1' });
    const keys = sent.map((request) => request.headers.get('idempotency-key'));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys.slice(0, 3)).toEqual([keys[0], keys[0], keys[0]]);
    expect(keys[3]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[3]).not.toBe(keys[0]);
    expect(keys[4]).toBe('batch-key-1');
    // The key is a header, not a wire field of the batch.
    expect(JSON.parse(sent[4]!.init.body as string)).toEqual({ source: 's3://bucket/inbox/' });
  });

  it('takes a repeated cancel’s 409 as the first attempt’s success when the task is REVOKED', async () => {
    const client = clientWith([
      networkError('ECONNRESET'),
      serviceError(409, 'TASK_NOT_CANCELLABLE', 'Task is REVOKED'),
      json(200, task({ status: 'REVOKED' })),
    ]);
    expect(await client.cancel('t1')).toMatchObject({ status: 'REVOKED' });
    expect(sent.map((request) => `${request.method} ${request.url}`)).toEqual([
      `POST ${BASE}/tasks/t1/cancel`,
      `POST ${BASE}/tasks/t1/cancel`,
      `GET ${BASE}/tasks/t1`,
    ]);

    // At the first attempt, the 409 is the answer.
    const first = clientWith([serviceError(409, 'TASK_NOT_CANCELLABLE', 'Task is SUCCESS')]);
    expect(await failureOf(first.cancel('t1'))).toMatchObject({ code: 'TASK_NOT_CANCELLABLE', status: 409 });
  });
});

describe('errors', () => {
  it('carry the service’s code, message, status and details; retryable from the status', async () => {
    const details = [{ field: 'chunk_size', message: 'too big' }];
    const client = clientWith([serviceError(400, 'VALIDATION_ERROR', 'Invalid request: chunk_size', { details })]);
    const error = await failureOf(client.submitUrl('https://example.com/a.pdf', { chunk_size: 10 ** 9 }));
    expect(error).toMatchObject({
      name: 'DocprocError',
      code: 'VALIDATION_ERROR',
      message: 'Invalid request: chunk_size',
      status: 400,
      retryable: false,
      details,
    });
  });

  it('take `retryable` from the body when it says', async () => {
    const client = clientWith([serviceError(422, 'SOURCE_FETCH_FAILED', 'The URL answered 503', { retryable: true })]);
    expect(await failureOf(client.getTask('t1'))).toMatchObject({ retryable: true, attempts: 1 });
  });

  it('quote the request id of a 5xx message', async () => {
    const message = 'Internal error. Quote request id 3f2a-77 when reporting it.';
    const client = clientWith([serviceError(500, 'INTERNAL_ERROR', message)], { retry: { maxAttempts: 1 } });
    expect(await failureOf(client.getTask('t1'))).toMatchObject({
      code: 'INTERNAL_ERROR',
      requestId: '3f2a-77',
      retryable: true,
    });
  });

  it('say SERVICE_UNREACHABLE when nothing answers', async () => {
    const client = clientWith([networkError('ECONNREFUSED'), networkError('ECONNREFUSED')], {
      retry: { maxAttempts: 2 },
    });
    const error = await failureOf(client.getTask('t1'));
    expect(error).toMatchObject({ code: 'SERVICE_UNREACHABLE', retryable: true, attempts: 2, status: undefined });
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it('map a proxy’s non-JSON 502 to HTTP_ERROR with the status, retried first', async () => {
    const page = () =>
      new Response('<html><body><h1>502 Bad Gateway</h1></body></html>', {
        status: 502,
        headers: { 'content-type': 'text/html' },
      });
    const client = clientWith([page(), page(), page()], { retry: { maxAttempts: 3 } });
    const error = await failureOf(client.getTask('t1'));
    expect(error).toMatchObject({ code: 'HTTP_ERROR', status: 502, retryable: true, attempts: 3 });
    expect(error.message).toContain('502 Bad Gateway');
  });

  it('map API Gateway’s own refusals: 403 UNAUTHORIZED, 429 THROTTLED', async () => {
    const client = clientWith([json(403, { message: 'Forbidden' })]);
    expect(await failureOf(client.getTask('t1'))).toMatchObject({
      code: 'UNAUTHORIZED',
      status: 403,
      message: expect.stringContaining('Forbidden'),
    });
  });

  it('say INVALID_RESPONSE for a 2xx that is not JSON', async () => {
    const client = clientWith([new Response('not json', { status: 200 })]);
    expect(await failureOf(client.getTask('t1'))).toMatchObject({ code: 'INVALID_RESPONSE', status: 200 });
  });

  it.each([null, {}, [], 'PENDING', { task_id: 't1' }, { task_id: 't1', status: 3 }])(
    'say INVALID_RESPONSE, never a TypeError or an endless poll, for a 200 whose task is %j',
    async (body) => {
      const client = clientWith([json(200, body), json(200, body), json(200, body)]);
      expect(await failureOf(client.getTask('t1'))).toMatchObject({ code: 'INVALID_RESPONSE', status: 200 });
      expect(await failureOf(client.waitForTask('t1'))).toMatchObject({ code: 'INVALID_RESPONSE', attempts: 1 });
      expect(await failureOf(client.cancel('t1'))).toMatchObject({ code: 'INVALID_RESPONSE' });
      expect(sent).toHaveLength(3);
    },
  );

  it('say INVALID_RESPONSE for submissions, pages, batches and results not of the promised shape', async () => {
    const client = clientWith([
      json(202, null),
      json(200, {}),
      json(200, { tasks: [null] }),
      json(202, { status: 'LISTING' }),
      json(200, null),
      json(200, { deliveries: 'none' }),
      json(200, task({ status: 'SUCCESS', result: { result_url: 'https://bucket.test/r' } as Task['result'] })),
      json(200, { documents: null }),
    ]);
    const invalid = { code: 'INVALID_RESPONSE' };
    expect(await failureOf(client.submitUrl('https://example.com/a.pdf'))).toMatchObject(invalid);
    expect(await failureOf(client.listTasks().next())).toMatchObject(invalid);
    expect(await failureOf(client.listTasks().next())).toMatchObject(invalid);
    expect(await failureOf(client.createBatch(['https://example.com/a.pdf']))).toMatchObject(invalid);
    expect(await failureOf(client.waitForBatch('b1'))).toMatchObject(invalid);
    expect(await failureOf(client.listDeliveries('t1'))).toMatchObject(invalid);
    expect(await failureOf(client.getResult('t1'))).toMatchObject(invalid);
  });

  it('turn a FAILURE into its own code in getResult', async () => {
    const failed = task({
      status: 'FAILURE',
      error: { code: 'PDF_PASSWORD_PROTECTED', message: 'The PDF is encrypted.', retryable: false },
    });
    const client = clientWith([]);
    expect(await failureOf(client.getResult(failed))).toMatchObject({ code: 'PDF_PASSWORD_PROTECTED' });
    expect(await failureOf(client.getResult(task({ status: 'STARTED' })))).toMatchObject({
      code: 'TASK_NOT_FINISHED',
    });
  });
});

describe('requests', () => {
  it('send the API key to the service and not to a presigned result link', async () => {
    const linked = task({
      status: 'SUCCESS',
      result: { status: 'success', filename: 'a.pdf', document_count: 1, result_url: 'https://bucket.test/r?sig' },
    });
    const client = clientWith([
      json(200, linked),
      json(200, { status: 'success', filename: 'a.pdf', document_count: 1, documents: [] }),
    ]);
    expect(await client.getResult('t1')).toMatchObject({ documents: [] });
    expect(sent[0]!.headers.get('x-api-key')).toBe('key-1');
    expect(sent[1]!.url).toBe('https://bucket.test/r?sig');
    expect(sent[1]!.headers.get('x-api-key')).toBeNull();
  });

  it('read the base URL and key from the environment; a bare origin gets the API path', () => {
    const saved = { url: process.env.DOCPROC_URL, key: process.env.DOCPROC_API_KEY };
    try {
      process.env.DOCPROC_URL = 'https://api.example.com/';
      expect(new DocprocClient().baseUrl).toBe('https://api.example.com/documents/async');
      process.env.DOCPROC_URL = 'https://x.execute-api.test/prod/documents/async/';
      expect(new DocprocClient().baseUrl).toBe('https://x.execute-api.test/prod/documents/async');
      delete process.env.DOCPROC_URL;
      expect(new DocprocClient().baseUrl).toBe('http://localhost:8000/documents/async');
    } finally {
      if (saved.url === undefined) delete process.env.DOCPROC_URL;
      else process.env.DOCPROC_URL = saved.url;
      if (saved.key === undefined) delete process.env.DOCPROC_API_KEY;
      else process.env.DOCPROC_API_KEY = saved.key;
    }
  });

  it('page through next_token until there is none', async () => {
    const client = clientWith([
      json(200, { tasks: [task({ task_id: 'a' }), task({ task_id: 'b' })], next_token: 'n1' }),
      json(200, { tasks: [task({ task_id: 'c' })], next_token: 'n/2+' }),
      json(200, { tasks: [] }),
    ]);
    const pages = [];
    for await (const page of client.listTasks({ status: 'FAILURE', limit: 2 })) pages.push(page);
    expect(pages.map((page) => page.tasks.map((entry) => entry.task_id))).toEqual([['a', 'b'], ['c'], []]);
    const queries = sent.map((request) => Object.fromEntries(new URL(request.url).searchParams));
    expect(queries).toEqual([
      { status: 'FAILURE', limit: '2' },
      { status: 'FAILURE', limit: '2', next_token: 'n1' },
      { status: 'FAILURE', limit: '2', next_token: 'n/2+' },
    ]);
    expect(new URL(sent[0]!.url).pathname).toBe('/documents/async/tasks');
  });

  it('page through a batch’s tasks the same way', async () => {
    const client = clientWith([json(200, { tasks: [task()], next_token: 'n1' }), json(200, { tasks: [task()] })]);
    let count = 0;
    for await (const page of client.listBatchTasks('b1')) count += page.tasks.length;
    expect(count).toBe(2);
    expect(sent.map((request) => new URL(request.url).pathname)).toEqual([
      '/documents/async/batches/b1/tasks',
      '/documents/async/batches/b1/tasks',
    ]);
  });

  it('create a batch from a list or from a prefix', async () => {
    const batch = { batch_id: 'b1', status: 'LISTING' };
    const client = clientWith([json(202, batch), json(202, batch)]);
    await client.createBatch(['https://example.com/a.pdf'], { split: true, callback_url: 'https://hook.test/' });
    await client.createBatch('s3://bucket/inbox/reports/');
    expect(JSON.parse(sent[0]!.init.body as string)).toEqual({
      sources: ['https://example.com/a.pdf'],
      split: true,
      callback_url: 'https://hook.test/',
    });
    expect(JSON.parse(sent[1]!.init.body as string)).toEqual({ source: 's3://bucket/inbox/reports/' });
  });
});

describe('submitFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'docproc-sdk-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  /** The body a fake fetch was given, read as the network would read it. */
  const bodyText = async (body: RequestInit['body']) => new Response(body).text();

  it('posts a small file as multipart, named and typed from its path, options as form fields', async () => {
    const path = file('memo.pdf', '%PDF-1.4 tiny');
    const client = clientWith([json(202, { task_id: 't1', status: 'PENDING', message: 'submitted' })]);
    const submitted = await client.submitFile(path, {
      split: true,
      chunk_size: 500,
      callback_events: ['task.failed', 'task.succeeded'],
    });
    expect(submitted).toMatchObject({ task_id: 't1', route: 'upload', replayed: false });
    const [request] = sent;
    expect(request).toMatchObject({ method: 'POST', url: `${BASE}/upload` });
    expect(request!.headers.get('idempotency-key')).toMatch(/^[0-9a-f-]{36}$/);
    const form = request!.init.body as FormData;
    const uploaded = form.get('file') as File;
    expect(uploaded.name).toBe('memo.pdf');
    expect(uploaded.type).toBe('application/pdf');
    expect(await uploaded.text()).toBe('%PDF-1.4 tiny');
    expect(Object.fromEntries([...form.entries()].filter(([key]) => key !== 'file'))).toEqual({
      split: 'true',
      chunk_size: '500',
      callback_events: 'task.failed,task.succeeded',
    });
  });

  it('sends a file above the direct limit through upload-url, then streams it to the presigned URL', async () => {
    const path = file('big.docx', 'x'.repeat(64));
    const upload = { url: 'https://bucket.test/put?sig', method: 'PUT', headers: { 'content-type': 'type/signed' } };
    const client = clientWith([json(201, { task_id: 't1', status: 'AWAITING_UPLOAD', upload }), json(200, {})], {
      directUploadLimit: 10,
    });
    const progress: number[] = [];
    const submitted = await client.submitFile(path, {
      split: true,
      onUploadProgress: (sentBytes) => progress.push(sentBytes),
    });
    expect(submitted).toMatchObject({ task_id: 't1', status: 'AWAITING_UPLOAD', route: 'upload-url' });
    const [created, put] = sent;
    expect(created!.url).toBe(`${BASE}/upload-url`);
    expect(JSON.parse(created!.init.body as string)).toEqual({
      filename: 'big.docx',
      content_type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      size_bytes: 64,
      split: true,
    });
    expect(put).toMatchObject({ method: 'PUT', url: upload.url });
    expect(put!.headers.get('content-type')).toBe('type/signed');
    expect(put!.headers.get('content-length')).toBe('64');
    expect(put!.headers.get('x-api-key')).toBeNull();
    // Streamed: an async iterable read as it is sent, never a buffer of the file.
    expect(put!.init).toMatchObject({ duplex: 'half' });
    expect(put!.init.body).not.toBeInstanceOf(Uint8Array);
    expect(Symbol.asyncIterator in (put!.init.body as object)).toBe(true);
    expect(await bodyText(put!.init.body)).toBe('x'.repeat(64));
    expect(progress.at(-1)).toBe(64);
  });

  it('streams from a fresh read of the file on each attempt of the PUT', async () => {
    const path = file('big.txt', 'y'.repeat(32));
    const upload = { url: 'https://bucket.test/put?sig', method: 'PUT', headers: {} };
    const bodies: string[] = [];
    const storage = (status: number) => async (request: Sent) => {
      bodies.push(await bodyText(request.init.body));
      return new Response(status === 200 ? '' : '<Error><Code>SlowDown</Code></Error>', { status });
    };
    const client = clientWith(
      [json(201, { task_id: 't1', status: 'AWAITING_UPLOAD', upload }), storage(503), storage(200)],
      {
        directUploadLimit: 10,
      },
    );
    await client.submitFile(path);
    expect(bodies).toEqual(['y'.repeat(32), 'y'.repeat(32)]);
    expect(sent[1]!.init.body).not.toBe(sent[2]!.init.body);
  });

  it('says FILE_NOT_READABLE, without retrying, when the file goes away before its upload', async () => {
    const path = file('vanishing.txt', 'v'.repeat(32));
    const upload = { url: 'https://bucket.test/put?sig', method: 'PUT', headers: {} };
    const client = clientWith(
      [
        () => {
          rmSync(path);
          return json(201, { task_id: 't1', status: 'AWAITING_UPLOAD', upload });
        },
        async (request) => new Response(await bodyText(request.init.body)),
      ],
      { directUploadLimit: 10 },
    );
    const error = await failureOf(client.submitFile(path));
    expect(error).toMatchObject({ code: 'FILE_NOT_READABLE', attempts: 1 });
    expect(error.message).toContain('ENOENT');
  });

  it.each([
    ['grows', (path: string) => appendFileSync(path, 'more')],
    ['shrinks', (path: string) => writeFileSync(path, 'short')],
  ])('says FILE_NOT_READABLE, without retrying, when the file %s during its upload', async (_, change) => {
    const path = file(`changing-${_}.txt`, 'c'.repeat(32));
    const upload = { url: 'https://bucket.test/put?sig', method: 'PUT', headers: {} };
    let received: string | undefined;
    const client = clientWith(
      [
        () => {
          change(path);
          return json(201, { task_id: 't1', status: 'AWAITING_UPLOAD', upload });
        },
        async (request) => {
          received = await bodyText(request.init.body);
          return new Response('');
        },
      ],
      { directUploadLimit: 10 },
    );
    const error = await failureOf(client.submitFile(path));
    expect(error).toMatchObject({ code: 'FILE_NOT_READABLE', attempts: 1 });
    expect(error.message).toContain('changed size while it was uploaded');
    expect(received).toBeUndefined();
    expect(sent).toHaveLength(2);
  });

  it('says FILE_NOT_READABLE, not SERVICE_UNREACHABLE and not a hang, when the file changes under a real PUT', async () => {
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/put`;
      for (const [name, change] of [
        ['grown', (path: string) => appendFileSync(path, 'g'.repeat(256 * 1024))],
        ['shrunk', (path: string) => writeFileSync(path, 's')],
      ] as const) {
        const path = file(`real-${name}.txt`, 'r'.repeat(128 * 1024));
        const client = new DocprocClient({
          baseUrl: BASE,
          directUploadLimit: 10,
          retry: { baseDelayMs: 1 },
          transferIdleTimeoutMs: 5_000,
          fetch: async (input, init) => {
            if ((input instanceof Request ? input.url : input.toString()) !== `${BASE}/upload-url`)
              return fetch(input, init);
            change(path);
            return json(201, { task_id: 't1', status: 'AWAITING_UPLOAD', upload: { url, method: 'PUT', headers: {} } });
          },
        });
        const error = await failureOf(client.submitFile(path));
        expect(error, name).toMatchObject({ code: 'FILE_NOT_READABLE', attempts: 1 });
      }
    } finally {
      server.close();
    }
  });

  it('gives up on a presigned PUT or a result_url GET with TIMEOUT when nothing moves for transferIdleTimeoutMs', async () => {
    const stalled = (request: Sent) =>
      new Promise<Response>((_, reject) => {
        const signal = request.init.signal!;
        signal.addEventListener('abort', () => reject(new DOMException('This operation was aborted', 'AbortError')));
      });
    const upload = { url: 'https://bucket.test/put?sig', method: 'PUT', headers: {} };
    const linked = task({
      status: 'SUCCESS',
      result: { status: 'success', filename: 'a.pdf', document_count: 1, result_url: 'https://bucket.test/r?sig' },
    });
    const client = clientWith(
      [json(201, { task_id: 't1', status: 'AWAITING_UPLOAD', upload }), stalled, stalled, stalled, stalled],
      { transferIdleTimeoutMs: 30, directUploadLimit: 0, retry: { maxAttempts: 2 } },
    );
    const put = await failureOf(client.submitFile(Buffer.from('bytes'), { filename: 'a.txt' }));
    expect(put).toMatchObject({ code: 'TIMEOUT', attempts: 2 });
    expect(put.message).toContain('PUT presigned upload');
    const read = await failureOf(client.getResult(linked));
    expect(read).toMatchObject({ code: 'TIMEOUT', attempts: 2 });
    expect(read.message).toContain('GET result_url');
  });

  it('says UPLOAD_FAILED with storage’s reason when the PUT is refused', async () => {
    const path = file('big2.txt', 'z'.repeat(32));
    const upload = { url: 'https://bucket.test/put?sig', method: 'PUT', headers: {} };
    const refusal = '<Error><Code>SignatureDoesNotMatch</Code><Message>Check your key</Message></Error>';
    const client = clientWith(
      [json(201, { task_id: 't1', status: 'AWAITING_UPLOAD', upload }), new Response(refusal, { status: 403 })],
      { directUploadLimit: 10 },
    );
    expect(await failureOf(client.submitFile(path))).toMatchObject({
      code: 'UPLOAD_FAILED',
      status: 403,
      retryable: false,
      message: expect.stringContaining('SignatureDoesNotMatch: Check your key'),
    });
  });

  it('makes no PUT when a replayed upload-url says the bytes already landed', async () => {
    const client = clientWith([json(200, { task_id: 't1', status: 'STARTED' })], { directUploadLimit: 0 });
    expect(await client.submitFile(Buffer.from('bytes'), { filename: 'a.txt' })).toMatchObject({
      status: 'STARTED',
      replayed: true,
    });
    expect(sent).toHaveLength(1);
  });

  it('falls back to upload-url, with the same key, when the service refuses the direct upload as too large', async () => {
    const upload = { url: 'https://bucket.test/put?sig', method: 'PUT', headers: {} };
    const client = clientWith([
      serviceError(413, 'PAYLOAD_TOO_LARGE', 'Use upload-url'),
      json(201, { task_id: 't1', status: 'AWAITING_UPLOAD', upload }),
      new Response('', { status: 200 }),
    ]);
    const submitted = await client.submitFile(new Uint8Array(3), { filename: 'a.bin' });
    expect(submitted.route).toBe('upload-url');
    expect(sent.map((request) => request.url)).toEqual([`${BASE}/upload`, `${BASE}/upload-url`, upload.url]);
    expect(sent[1]!.headers.get('idempotency-key')).toBe(sent[0]!.headers.get('idempotency-key'));
  });

  it('keeps one Idempotency-Key through the retries of upload-url', async () => {
    const upload = { url: 'https://bucket.test/put?sig', method: 'PUT', headers: {} };
    const client = clientWith(
      [
        networkError('ECONNRESET'),
        json(200, { task_id: 't1', status: 'AWAITING_UPLOAD', upload }),
        new Response('', { status: 200 }),
      ],
      { directUploadLimit: 0 },
    );
    await client.submitFile(Buffer.from('abc'), { filename: 'a.txt' });
    expect(sent[0]!.headers.get('idempotency-key')).toBe(sent[1]!.headers.get('idempotency-key'));
  });

  it('says FILE_NOT_READABLE for a path that is not a file', async () => {
    const client = clientWith([]);
    expect(await failureOf(client.submitFile(join(dir, 'missing.pdf')))).toMatchObject({ code: 'FILE_NOT_READABLE' });
    expect(await failureOf(client.submitFile(dir))).toMatchObject({ code: 'FILE_NOT_READABLE' });
    expect(sent).toEqual([]);
  });
});

describe('waitForTask', () => {
  /**
   * A service that honours `wait`: each answer is the next task of `states`,
   * and the clock moves by the wait it was asked for (as if it held the request).
   */
  const longPolling = (states: Task[]) =>
    states.map((state) => (request: Sent) => {
      clock += Number(new URL(request.url).searchParams.get('wait') ?? 0) * 1000;
      return json(200, state);
    });

  it('long polls and reports each change once', async () => {
    const states = [
      task({ status: 'PENDING' }),
      task({ status: 'STARTED', progress: 30, stage: 'parsing' }),
      task({ status: 'STARTED', progress: 30, stage: 'parsing' }),
      task({ status: 'STARTED', progress: 80, stage: 'storing' }),
      task({ status: 'SUCCESS', progress: 100, stage: 'done' }),
    ];
    const client = clientWith(longPolling(states));
    const seen: string[] = [];
    const final = await client.waitForTask('t1', {
      onProgress: (update) => seen.push(`${update.status} ${update.progress}`),
    });
    expect(final.status).toBe('SUCCESS');
    expect(seen).toEqual(['PENDING 0', 'STARTED 30', 'STARTED 80', 'SUCCESS 100']);
    expect(sent.map((request) => new URL(request.url).search)).toEqual([
      '',
      '?wait=2',
      '?wait=2',
      '?wait=2',
      '?wait=2',
    ]);
    expect(delays).toEqual([]);
  });

  it('long polls 20 s at a time without onProgress, and returns a FAILURE rather than throwing it', async () => {
    const failed = task({
      status: 'FAILURE',
      error: { code: 'DOCUMENT_PARSE_ERROR', message: 'no', retryable: false },
    });
    const client = clientWith(longPolling([task(), task(), failed]));
    expect(await client.waitForTask('t1')).toMatchObject({
      status: 'FAILURE',
      error: { code: 'DOCUMENT_PARSE_ERROR' },
    });
    expect(sent.map((request) => new URL(request.url).search)).toEqual(['', '?wait=20', '?wait=20']);
  });

  it('falls back to polling with backoff when the service ignores wait', async () => {
    // An older deployment: answers at once, whatever `wait` says.
    const states = [...Array.from({ length: 7 }, () => task({ status: 'STARTED' })), task({ status: 'SUCCESS' })];
    const client = clientWith(states.map((state) => json(200, state)));
    expect((await client.waitForTask('t1', { pollIntervalMs: 500 })).status).toBe('SUCCESS');
    const searches = sent.map((request) => new URL(request.url).search);
    expect(searches.slice(0, 2)).toEqual(['', '?wait=20']);
    expect(searches.slice(2).every((search) => search === '')).toBe(true);
    expect(delays).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
  });

  it('throws TIMEOUT once timeoutMs has passed, never waiting past it', async () => {
    const client = clientWith(longPolling(Array.from({ length: 10 }, () => task({ status: 'STARTED', progress: 40 }))));
    const error = await failureOf(client.waitForTask('t1', { timeoutMs: 45_000 }));
    expect(error).toMatchObject({ code: 'TIMEOUT', retryable: true });
    expect(error.message).toContain('STARTED (40%)');
    expect(sent.map((request) => new URL(request.url).search)).toEqual(['', '?wait=20', '?wait=20', '?wait=5']);
  });

  it('stops with ABORTED when the signal fires between polls', async () => {
    const controller = new AbortController();
    const client = clientWith(longPolling([task(), task({ status: 'STARTED', progress: 10 }), task()]));
    const error = await failureOf(
      client.waitForTask('t1', {
        signal: controller.signal,
        onProgress: (update) => {
          if (update.status === 'STARTED') controller.abort();
        },
      }),
    );
    expect(error.code).toBe('ABORTED');
    expect(sent).toHaveLength(2);
  });

  it('stops with ABORTED when the signal fires during a long poll', async () => {
    const controller = new AbortController();
    const hanging = (request: Sent) =>
      new Promise<Response>((_, reject) => {
        request.init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        controller.abort();
      });
    const client = clientWith([json(200, task()), hanging]);
    expect((await failureOf(client.waitForTask('t1', { signal: controller.signal }))).code).toBe('ABORTED');
    expect(delays).toEqual([]);
  });
});

describe('verifyWebhook', () => {
  /** The Standard Webhooks specification's own test vector. */
  const VECTOR = {
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    timestamp: 1614265330,
    body: '{"test": 2432232314}',
    signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  };
  const at = (seconds: number) => ({ now: () => seconds * 1000 });
  const headersOf = (signature: string, id = VECTOR.id, timestamp = VECTOR.timestamp) => ({
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature,
  });

  it('accepts the specification’s test vector, from a plain object, Headers, or bytes', () => {
    const headers = headersOf(VECTOR.signature);
    expect(verifyWebhook(VECTOR.secret, headers, VECTOR.body, at(VECTOR.timestamp))).toBe(true);
    expect(verifyWebhook(VECTOR.secret, new Headers(headers), Buffer.from(VECTOR.body), at(VECTOR.timestamp))).toBe(
      true,
    );
    expect(
      verifyWebhook(VECTOR.secret, { 'Webhook-Id': VECTOR.id, ...headers }, VECTOR.body, at(VECTOR.timestamp)),
    ).toBe(true);
  });

  it('refuses a tampered body, id or timestamp', () => {
    const now = at(VECTOR.timestamp);
    expect(verifyWebhook(VECTOR.secret, headersOf(VECTOR.signature), '{"test": 2432232315}', now)).toBe(false);
    expect(verifyWebhook(VECTOR.secret, headersOf(VECTOR.signature, 'msg_other'), VECTOR.body, now)).toBe(false);
    expect(
      verifyWebhook(VECTOR.secret, headersOf(VECTOR.signature, VECTOR.id, VECTOR.timestamp + 1), VECTOR.body, now),
    ).toBe(false);
    expect(verifyWebhook(VECTOR.secret, headersOf('v2,' + VECTOR.signature.slice(3)), VECTOR.body, now)).toBe(false);
    expect(verifyWebhook(VECTOR.secret, {}, VECTOR.body, now)).toBe(false);
  });

  it('refuses a timestamp outside the tolerance either way (default five minutes)', () => {
    const headers = headersOf(VECTOR.signature);
    expect(verifyWebhook(VECTOR.secret, headers, VECTOR.body, at(VECTOR.timestamp + 300))).toBe(true);
    expect(verifyWebhook(VECTOR.secret, headers, VECTOR.body, at(VECTOR.timestamp + 301))).toBe(false);
    expect(verifyWebhook(VECTOR.secret, headers, VECTOR.body, at(VECTOR.timestamp - 301))).toBe(false);
    expect(
      verifyWebhook(VECTOR.secret, headers, VECTOR.body, { ...at(VECTOR.timestamp + 3600), toleranceSeconds: 3600 }),
    ).toBe(true);
  });

  it('verifies while secrets rotate: several signatures, several secrets', () => {
    const oldSecret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
    const newSecret = `whsec_${Buffer.alloc(32, 2).toString('base64')}`;
    const stranger = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
    const now = 1_900_000_000;
    const body = '{"type":"task.succeeded","timestamp":"…","data":{"task_id":"t1"}}';
    // The service signs with both while it moves (its own signer, so the two cannot drift apart).
    const both = signatureHeader(parseSigningKeys(`${oldSecret} ${newSecret}`), 'msg_1', now, body);
    expect(both.split(' ')).toHaveLength(2);
    const headers = headersOf(both, 'msg_1', now);
    expect(verifyWebhook(oldSecret, headers, body, at(now))).toBe(true);
    expect(verifyWebhook(newSecret, headers, body, at(now))).toBe(true);
    expect(verifyWebhook(stranger, headers, body, at(now))).toBe(false);
    // The receiver holds several; the service signs with the new one only.
    const newOnly = headersOf(signatureHeader(parseSigningKeys(newSecret), 'msg_1', now, body), 'msg_1', now);
    expect(verifyWebhook(`${stranger} ${newSecret}`, newOnly, body, at(now))).toBe(true);
    expect(verifyWebhook([stranger, newSecret], newOnly, body, at(now))).toBe(true);
    expect(verifyWebhook([stranger, oldSecret], newOnly, body, at(now))).toBe(false);
  });

  it('parseWebhook returns the typed event, or throws WEBHOOK_INVALID saying why', () => {
    const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const body = JSON.stringify({ type: 'task.failed', timestamp: 'now', data: { task_id: 't9', status: 'FAILURE' } });
    const headers = headersOf(
      signatureHeader(parseSigningKeys(secret), 'msg_9', 1_900_000_000, body),
      'msg_9',
      1_900_000_000,
    );
    expect(parseWebhook(secret, headers, body, at(1_900_000_000))).toMatchObject({
      type: 'task.failed',
      data: { task_id: 't9' },
    });
    let error: unknown;
    try {
      parseWebhook(secret, headers, body, at(1_900_000_000 + 600));
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'WEBHOOK_INVALID', message: expect.stringContaining('timestamp') });
  });
});
