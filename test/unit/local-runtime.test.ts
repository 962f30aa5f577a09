import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startGateway, toProxyEvent } from '../../local/api-gateway.js';
import { ROUTES } from '../../shared/definitions.js';
import {
  FunctionRuntime,
  InvocationFailed,
  InvocationTimeout,
  lambdaContext,
  RequestTooLarge,
  type LocalFunction,
} from '../../local/lambda-runtime.js';

const FIXTURE = new URL('../support/functions/fixture.ts', import.meta.url);
const runtimes: FunctionRuntime[] = [];
const runtime = (overrides: Partial<LocalFunction> = {}) => {
  const created = new FunctionRuntime({
    name: 'fixture',
    entry: FIXTURE,
    timeoutMs: 10_000,
    memoryMb: 256,
    environment: { FIXTURE_VALUE: 'from its own environment' },
    maxInstances: 2,
    ...overrides,
  });
  runtimes.push(created);
  return created;
};
afterAll(async () => {
  await Promise.all(runtimes.map((created) => created.stop(0)));
});

type Echo = { instance: string; visible?: string; leaked?: string; remaining: number };

describe('local Lambda runtime', () => {
  it('gives a context whose remaining time counts down to the deadline', async () => {
    const context = lambdaContext({ name: 'f', memoryMb: 128 }, 'id', Date.now() + 5_000);
    const first = context.getRemainingTimeInMillis();
    expect(first).toBeLessThanOrEqual(5_000);
    expect(first).toBeGreaterThan(4_900);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(context.getRemainingTimeInMillis()).toBeLessThan(first);
  });

  it('runs the function with its own environment only, and reuses a warm instance', async () => {
    process.env.LEAK_CHECK = 'of the parent process';
    const fn = runtime();
    const first = await fn.invoke<Echo>({});
    const second = await fn.invoke<Echo>({});
    expect(first.visible).toBe('from its own environment');
    expect(first.leaked).toBeUndefined();
    expect(first.remaining).toBeLessThanOrEqual(10_000);
    expect(second.instance).toBe(first.instance);
    delete process.env.LEAK_CHECK;
  });

  it('fails an invocation past its timeout and replaces the instance, as Lambda stops the sandbox', async () => {
    const fn = runtime({ timeoutMs: 300 });
    const before = await fn.invoke<Echo>({});
    await expect(fn.invoke({ action: 'sleep', ms: 5_000 })).rejects.toBeInstanceOf(InvocationTimeout);
    const after = await fn.invoke<Echo>({});
    expect(after.instance).not.toBe(before.instance);
  });

  it('reports what the handler threw, and keeps the instance', async () => {
    const fn = runtime();
    const before = await fn.invoke<Echo>({});
    await expect(fn.invoke({ action: 'throw' })).rejects.toMatchObject({ errorType: 'TypeError' });
    expect((await fn.invoke<Echo>({})).instance).toBe(before.instance);
  });

  // With handlers in the process, one such error (busboy's, on a 75-byte body) ended the whole local stack.
  it('fails the invocation when an error escapes the handler, replaces the runtime, and the process lives on', async () => {
    const fn = runtime();
    const before = await fn.invoke<Echo>({});
    const failure = await fn.invoke({ action: 'uncaught' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InvocationFailed);
    expect((failure as InvocationFailed).errorType).toBe('Runtime.ExitError');
    const after = await fn.invoke<Echo>({});
    expect(after.instance).not.toBe(before.instance);
  });

  it("stops an instance that outgrows the function's memory: Runtime.OutOfMemory", async () => {
    const fn = runtime({ memoryMb: 128 });
    await expect(fn.invoke({ action: 'exhaust-heap' })).rejects.toMatchObject({ errorType: 'Runtime.OutOfMemory' });
    expect((await fn.invoke<Echo>({})).visible).toBe('from its own environment');
  });

  it('refuses payloads over 6 MB, both ways, as Lambda does', async () => {
    const fn = runtime();
    await expect(fn.invoke({ body: 'x'.repeat(6_300_000) })).rejects.toBeInstanceOf(RequestTooLarge);
    await expect(fn.invoke({ action: 'big-response' })).rejects.toMatchObject({
      errorType: 'Function.ResponseSizeTooLarge',
    });
  });

  it('runs at most maxInstances at once; the others wait for a warm one', async () => {
    const fn = runtime({ maxInstances: 2 });
    const sleeping = [fn.invoke({ action: 'sleep', ms: 600 }), fn.invoke({ action: 'sleep', ms: 600 })];
    let thirdDone = false;
    const third = fn.invoke<Echo>({}).then((echo) => {
      thirdDone = true;
      return echo;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(fn.busy).toBe(2);
    expect(thirdDone).toBe(false);
    const slept = (await Promise.all(sleeping)) as Array<{ instance: string }>;
    expect(slept.map((echo) => echo.instance)).toContain((await third).instance);
    expect(fn.instances).toBe(2);
  });

  // Module state (the logger's keys above all) belongs to one invocation at a time, as on Lambda.
  it('never runs two invocations at once in one environment', async () => {
    const fn = runtime({ maxInstances: 3 });
    const results = await Promise.all(
      Array.from({ length: 9 }, () => fn.invoke<{ instance: string }>({ action: 'exclusive', ms: 100 })),
    );
    expect(new Set(results.map((result) => result.instance)).size).toBeLessThanOrEqual(3);
  });

  it('stops work under way after the grace period', async () => {
    const fn = runtime();
    const stuck = fn.invoke({ action: 'sleep', ms: 60_000 }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await fn.stop(100);
    expect(await stuck).toBeInstanceOf(InvocationFailed);
  });
});

describe('local API Gateway events', () => {
  const request = (headers: string[], method = 'POST') => {
    const message = new IncomingMessage(new Socket());
    message.method = method;
    message.rawHeaders = headers;
    message.headers = Object.fromEntries(
      headers.flatMap((value, index) => (index % 2 === 0 ? [[value.toLowerCase(), headers[index + 1] ?? '']] : [])),
    );
    return message;
  };

  it('builds a REST (v1) proxy event: multi-value headers and query, path parameters, request context', () => {
    const url = new URL('http://localhost/documents/async/tasks/abc?status=SUCCESS&status=FAILURE&limit=5');
    const event = toProxyEvent(
      request(['Accept', 'application/json', 'X-Trace', 'a', 'X-Trace', 'b'], 'GET'),
      url,
      Buffer.alloc(0),
      '/documents/async/tasks/{task_id}',
      { task_id: 'abc' },
      'key-id',
    );
    expect(event).toMatchObject({
      httpMethod: 'GET',
      path: '/documents/async/tasks/abc',
      resource: '/documents/async/tasks/{task_id}',
      headers: { Accept: 'application/json', 'X-Trace': 'b' },
      multiValueHeaders: { 'X-Trace': ['a', 'b'] },
      queryStringParameters: { status: 'FAILURE', limit: '5' },
      multiValueQueryStringParameters: { status: ['SUCCESS', 'FAILURE'], limit: ['5'] },
      pathParameters: { task_id: 'abc' },
      body: null,
      isBase64Encoded: false,
      requestContext: {
        stage: 'v1',
        resourcePath: '/documents/async/tasks/{task_id}',
        identity: { apiKeyId: 'key-id' },
      },
    });
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('passes multipart bodies base64-encoded (a binary media type) and others as text', () => {
    const url = new URL('http://localhost/documents/async/upload');
    const binary = toProxyEvent(
      request(['Content-Type', 'multipart/form-data; boundary=x']),
      url,
      Buffer.from([0, 255, 1]),
      '/r',
      null,
      null,
    );
    expect(binary).toMatchObject({ isBase64Encoded: true, body: Buffer.from([0, 255, 1]).toString('base64') });
    const text = toProxyEvent(
      request(['Content-Type', 'application/json']),
      url,
      Buffer.from('{"a":1}'),
      '/r',
      null,
      null,
    );
    expect(text).toMatchObject({ isBase64Encoded: false, body: '{"a":1}' });
  });
});

describe('local API Gateway limits', () => {
  const routesWith = (overrides: Partial<Record<(typeof ROUTES)[number]['handler'], FunctionRuntime>>) =>
    Object.fromEntries(
      ROUTES.map((route) => [
        route.handler,
        overrides[route.handler] ?? runtime({ environment: { FIXTURE_MODE: 'proxy' } }),
      ]),
    ) as never;

  it('answers 504 when the integration does not answer in time, and passes the result through otherwise', async () => {
    const gateway = await startGateway({
      host: '127.0.0.1',
      port: 0,
      routes: routesWith({ getTask: runtime({ timeoutMs: 300, environment: { FIXTURE_MODE: 'sleep' } }) }),
    });
    try {
      const timedOut = await fetch(`${gateway.url}/documents/async/tasks/00000000-0000-4000-8000-000000000000`);
      expect(timedOut.status).toBe(504);
      expect(await timedOut.json()).toEqual({
        error: { code: 'INTEGRATION_TIMEOUT', message: 'Endpoint request timed out' },
      });
      const ok = await fetch(`${gateway.url}/documents/async/tasks`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ ok: true });
    } finally {
      await gateway.close();
    }
  });

  it('answers 413 PAYLOAD_TOO_LARGE naming upload-url for a body past the 6 MB invoke payload (base64)', async () => {
    const gateway = await startGateway({ host: '127.0.0.1', port: 0, routes: routesWith({}) });
    try {
      const form = new FormData();
      form.append('file', new Blob([Buffer.alloc(5 * 1024 * 1024, 1)]), 'five-mb.pdf');
      const response = await fetch(`${gateway.url}/documents/async/upload`, { method: 'POST', body: form });
      expect(response.status).toBe(413);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('PAYLOAD_TOO_LARGE');
      expect(body.error.message).toContain('upload-url');
    } finally {
      await gateway.close();
    }
  });
});
