import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startGateway, toProxyEvent } from '../../local/api-gateway.js';
import { ROUTES } from '../../lib/definitions.js';
import { InvocationTimeout, invoke, lambdaContext, type LocalFunction } from '../../local/lambda-runtime.js';

const fn = (timeoutMs: number, handler: LocalFunction['handler']): LocalFunction => ({
  name: 'test',
  timeoutMs,
  memoryMb: 128,
  environment: {},
  handler,
});

describe('local Lambda runtime', () => {
  it('gives a context whose remaining time counts down from the configured timeout', async () => {
    const context = lambdaContext(fn(5_000, async () => undefined));
    const first = context.getRemainingTimeInMillis();
    expect(first).toBeLessThanOrEqual(5_000);
    expect(first).toBeGreaterThan(4_900);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(context.getRemainingTimeInMillis()).toBeLessThan(first);
  });

  it('fails an invocation that runs past its timeout', async () => {
    const slow = fn(50, () => new Promise((resolve) => setTimeout(resolve, 1_000)));
    await expect(invoke(slow, {})).rejects.toBeInstanceOf(InvocationTimeout);
    const quick = fn(1_000, async (event) => ({ echoed: event }));
    expect(await invoke(quick, { a: 1 })).toEqual({ echoed: { a: 1 } });
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
  it('answers 504 when the integration does not answer in time, and passes the result through otherwise', async () => {
    const slow = fn(100, () => new Promise((resolve) => setTimeout(resolve, 1_000)));
    const quick = fn(1_000, async () => ({
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"ok":true}',
    }));
    const routes = Object.fromEntries(
      ROUTES.map((route) => [route.handler, route.handler === 'listTasks' ? quick : slow]),
    ) as never;
    const gateway = await startGateway({ host: '127.0.0.1', port: 0, routes });
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
});
