import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRemote, startTarget, type Target } from '../support/target.js';

let target: Target;
const KEY = 'local-test-key';
const ORIGIN = 'https://app.example.com';

beforeAll(async () => {
  if (isRemote()) return;
  target = await startTarget({ apiKeys: [KEY], config: { corsOrigins: [ORIGIN] } });
});
afterAll(async () => target?.stop());

const upload = (headers: Record<string, string>) => {
  const form = new FormData();
  form.append('file', new Blob(['some text']), 'a.txt');
  return fetch(`${target.apiUrl}/upload`, { method: 'POST', body: form, headers });
};

/** A raw request, for what fetch will not send (oversized headers, broken bodies). */
const raw = (path: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer }) =>
  new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const url = new URL(`${target.apiUrl}${path}`);
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on('error', reject);
    req.end(options.body);
  });

describe.skipIf(isRemote())('access and malformed requests at the gateway', () => {
  it('refuses requests without the API key, or with a wrong one', async () => {
    for (const headers of [{}, { 'x-api-key': 'wrong' }] as Array<Record<string, string>>) {
      const response = await upload(headers);
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ error: { code: 'INVALID_API_KEY', message: 'Forbidden' } });
    }
    expect((await upload({ 'x-api-key': KEY })).status).toBe(202);
  });

  it('answers an unknown path or method as API Gateway does', async () => {
    const response = await fetch(`${target.apiUrl}/nowhere`, { headers: { 'x-api-key': KEY } });
    expect(response.status).toBe(403);
    expect(((await response.json()) as any).error.code).toBe('MISSING_AUTHENTICATION_TOKEN');
    expect((await fetch(`${target.apiUrl}/upload`, { headers: { 'x-api-key': KEY } })).status).toBe(403);
  });

  it('allows the configured CORS origin only', async () => {
    const preflight = await fetch(`${target.apiUrl}/upload`, { method: 'OPTIONS', headers: { origin: ORIGIN } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const allowed = await fetch(`${target.apiUrl}/tasks`, { headers: { 'x-api-key': KEY, origin: ORIGIN } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const other = await fetch(`${target.apiUrl}/tasks`, {
      headers: { 'x-api-key': KEY, origin: 'https://evil.example' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers with a content type and no headers about its internals', async () => {
    for (const response of [
      await fetch(`${target.apiUrl}/tasks`, { headers: { 'x-api-key': KEY } }),
      await fetch(`${target.apiUrl}/tasks/nope`, { headers: { 'x-api-key': KEY } }),
      await upload({}),
    ]) {
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      for (const name of ['x-powered-by', 'server', 'x-amzn-remapped-x-powered-by'])
        expect(response.headers.get(name)).toBeNull();
    }
  });

  it('answers oversized headers with a 4xx', async () => {
    const response = await raw('/tasks', { headers: { 'x-api-key': KEY, 'x-padding': 'a'.repeat(20_000) } });
    expect(response.status).toBe(431);
  });

  it('answers a multipart body without a boundary, and one over 10 MB, with a 4xx', async () => {
    const noBoundary = await raw('/upload', {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'multipart/form-data' },
      body: Buffer.from('--x\r\ncontent-disposition: form-data; name="file"\r\n\r\nabc\r\n--x--'),
    });
    expect(noBoundary.status).toBeGreaterThanOrEqual(400);
    expect(noBoundary.status).toBeLessThan(500);
    const huge = await raw('/upload', {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'multipart/form-data; boundary=x' },
      body: Buffer.alloc(11 * 1024 * 1024, 'a'),
    });
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body).error).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      message: expect.stringContaining('upload-url'),
    });
  });
});
