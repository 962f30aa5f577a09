import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../lambdas/errors.js';
import { addressProblem, checkUrl } from '../../lambdas/core/url-policy.js';
import { guardedLookup } from '../../lambdas/adapters/pinned-http.js';
import { fetchUrl, type FetchLimits } from '../../lambdas/adapters/url-source.js';

const STRICT = { allowPrivateAddresses: false };

const codeOf = async (run: () => unknown) => {
  try {
    await run();
  } catch (error) {
    return (error as AppError).code;
  }
  return undefined;
};

describe('address policy', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '198.18.0.1',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd00:ec2::254',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    'ff02::1',
    '2001:db8::1',
    // IPv6 forms that reach IPv4 space: IPv4-compatible, NAT64, 6to4, Teredo, SIIT.
    '::7f00:1',
    '::a9fe:a9fe',
    '64:ff9b::7f00:1',
    '2002:7f00:1::',
    '2001:0:7f00:1::',
    '::ffff:0:7f00:1',
  ])('refuses %s', (address) => {
    expect(addressProblem(address, STRICT)).toEqual(expect.any(String));
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111'])('allows the public address %s', (address) => {
    expect(addressProblem(address, STRICT)).toBeUndefined();
  });

  it('opens loopback only for --allow-private-urls: never link-local, metadata or private ranges', () => {
    const local = { allowPrivateAddresses: true };
    expect(addressProblem('127.0.0.1', local)).toBeUndefined();
    expect(addressProblem('::1', local)).toBeUndefined();
    for (const address of ['169.254.169.254', 'fd00:ec2::254', '10.0.0.1', '192.168.1.1', 'fe80::1', '::7f00:1']) {
      expect(addressProblem(address, local)).toEqual(expect.any(String));
    }
    expect(() => checkUrl('http://localhost:8080/a.pdf', local)).not.toThrow();
    expect(() => checkUrl('http://169.254.169.254/latest/meta-data/', local)).toThrow(AppError);
  });

  it('allows only the private ranges a test names', () => {
    const policy = { allowPrivateAddresses: ['127.0.0.1/32'] };
    expect(addressProblem('127.0.0.1', policy)).toBeUndefined();
    expect(addressProblem('127.0.0.2', policy)).toEqual(expect.any(String));
    expect(addressProblem('10.0.0.1', policy)).toEqual(expect.any(String));
  });

  it.each([
    'http://2130706433/',
    'http://0x7f.1/',
    'http://0177.0.0.1/',
    'http://127.1/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::127.0.0.1]/',
    'http://[64:ff9b::127.0.0.1]/',
    'http://[::1]:8080/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/',
    'http://localhost/',
    'http://app.localhost./',
    'http://user:secret@example.com/',
    'ftp://example.com/file',
    'file:///etc/passwd',
    'gopher://example.com/',
    'not a url',
  ])('refuses %s from the URL alone', (url) => {
    expect(() => checkUrl(url, STRICT)).toThrow(AppError);
  });

  it('accepts an ordinary https URL', () => {
    expect(checkUrl('https://example.com/a.pdf?x=1', STRICT).hostname).toBe('example.com');
  });
});

describe('guarded DNS lookup', () => {
  const resolver = (addresses: string[]) =>
    ((_host: string, _options: unknown, callback: (error: null, addresses: LookupAddress[]) => void) =>
      callback(
        null,
        addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      )) as never;
  const lookup = (addresses: string[]) =>
    new Promise<unknown>((resolve) =>
      guardedLookup(STRICT, resolver(addresses))('host.test', {}, (error) => resolve(error)),
    );

  it('lets public answers through', async () => {
    expect(await lookup(['93.184.216.34'])).toBeNull();
  });

  it('refuses a name that resolves to a private address, or to any private address among others', async () => {
    expect(await lookup(['10.0.0.7'])).toMatchObject({ code: 'EFORBIDDENADDRESS' });
    expect(await lookup(['93.184.216.34', '169.254.169.254'])).toMatchObject({ code: 'EFORBIDDENADDRESS' });
  });
});

describe('fetchUrl', () => {
  let server: Server;
  let base: string;
  let lastHost = '';
  const limits = (overrides: Partial<FetchLimits> = {}): FetchLimits => ({
    maxBytes: 1000,
    timeoutMs: 2000,
    connectTimeoutMs: 1000,
    maxRedirects: 5,
    allowPrivateAddresses: ['127.0.0.1/32'],
    ...overrides,
  });

  beforeAll(async () => {
    server = createServer((request, response) => {
      lastHost = String(request.headers.host);
      const url = new URL(request.url ?? '/', 'http://x');
      const hops = Number(url.searchParams.get('hops') ?? 0);
      if (url.pathname === '/ok') return response.end('hello');
      if (url.pathname === '/chain') {
        if (hops === 0) return response.end('arrived');
        return response.writeHead(302, { location: `/chain?hops=${hops - 1}` }).end();
      }
      if (url.pathname === '/to')
        return response.writeHead(301, { location: url.searchParams.get('target') ?? '/' }).end();
      if (url.pathname === '/big') return response.writeHead(200, { 'content-length': 5000 }).end(Buffer.alloc(5000));
      if (url.pathname === '/big-chunked') {
        response.writeHead(200);
        for (let i = 0; i < 10; i++) response.write(Buffer.alloc(500));
        return response.end();
      }
      if (url.pathname === '/slow') {
        response.writeHead(200);
        const timer = setInterval(() => response.write('.'), 100);
        response.on('close', () => clearInterval(timer));
        return;
      }
      return response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('fetches the bytes and the content type', async () => {
    const fetched = await fetchUrl(`${base}/ok`, limits());
    expect(Buffer.from(fetched.bytes).toString()).toBe('hello');
  });

  it('follows up to five redirects and refuses a sixth', async () => {
    expect(Buffer.from((await fetchUrl(`${base}/chain?hops=5`, limits())).bytes).toString()).toBe('arrived');
    expect(await codeOf(() => fetchUrl(`${base}/chain?hops=6`, limits()))).toBe('SOURCE_FETCH_FAILED');
  });

  it.each([
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.1/',
    'http://[::1]/',
    'ftp://example.com/x',
    'http://u:p@example.com/',
  ])('checks every redirect: refuses one to %s', async (target) => {
    expect(await codeOf(() => fetchUrl(`${base}/to?target=${encodeURIComponent(target)}`, limits()))).toBe(
      'SOURCE_URL_FORBIDDEN',
    );
  });

  it('refuses a name that resolves to a private address, before connecting', async () => {
    const toPrivate = ((_host: string, _options: unknown, callback: (e: null, a: LookupAddress[]) => void) =>
      callback(null, [{ address: '10.0.0.7', family: 4 }])) as never;
    expect(await codeOf(() => fetchUrl('http://internal.test/x', limits({ lookup: toPrivate })))).toBe(
      'SOURCE_URL_FORBIDDEN',
    );
  });

  it('connects to the address it checked (no second resolution to rebind)', async () => {
    const port = new URL(base).port;
    const toLoopback = ((_host: string, _options: unknown, callback: (e: null, a: LookupAddress[]) => void) =>
      callback(null, [{ address: '127.0.0.1', family: 4 }])) as never;
    const fetched = await fetchUrl(`http://rebind.test:${port}/ok`, limits({ lookup: toLoopback }));
    expect(Buffer.from(fetched.bytes).toString()).toBe('hello');
    expect(lastHost).toBe(`rebind.test:${port}`);
  });

  it('caps the bytes, with or without a content-length', async () => {
    expect(await codeOf(() => fetchUrl(`${base}/big`, limits()))).toBe('SOURCE_TOO_LARGE');
    expect(await codeOf(() => fetchUrl(`${base}/big-chunked`, limits()))).toBe('SOURCE_TOO_LARGE');
  });

  it('gives up on a body that never ends', async () => {
    expect(await codeOf(() => fetchUrl(`${base}/slow`, limits({ timeoutMs: 400, maxBytes: 100_000 })))).toBe(
      'SOURCE_FETCH_FAILED',
    );
  });

  it('reports HTTP errors and unreachable hosts as SOURCE_FETCH_FAILED', async () => {
    expect(await codeOf(() => fetchUrl(`${base}/missing`, limits()))).toBe('SOURCE_FETCH_FAILED');
    expect(await codeOf(() => fetchUrl('http://127.0.0.1:1/', limits()))).toBe('SOURCE_FETCH_FAILED');
  });
});

describe('fetch failures say what happened without internals', () => {
  const messageOf = async (run: () => unknown) => {
    try {
      await run();
    } catch (error) {
      return (error as AppError).message;
    }
    return undefined;
  };
  const limits: FetchLimits = {
    allowPrivateAddresses: ['127.0.0.1/32'],
    maxBytes: 1000,
    timeoutMs: 2000,
    connectTimeoutMs: 1000,
    maxRedirects: 5,
  };

  it('never quotes the address a name resolved to', async () => {
    const toMetadata = ((_host: string, _options: unknown, callback: (e: null, a: LookupAddress[]) => void) =>
      callback(null, [{ address: '169.254.169.254', family: 4 }])) as never;
    const message = await messageOf(() => fetchUrl('http://innocent.test/x', { ...limits, lookup: toMetadata }));
    expect(message).toContain('does not fetch from');
    expect(message).not.toContain('169.254');
  });

  it('never quotes an errno code', async () => {
    const message = await messageOf(() => fetchUrl('http://127.0.0.1:1/', limits));
    expect(message).toContain('the connection was refused');
    expect(message).not.toMatch(/E[A-Z]{4,}/);
    const unknownHost = ((_host: string, _options: unknown, callback: (e: Error) => void) =>
      callback(Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.test'), { code: 'ENOTFOUND' }))) as never;
    const unresolved = await messageOf(() => fetchUrl('http://nowhere.test/', { ...limits, lookup: unknownHost }));
    expect(unresolved).toContain('does not resolve');
    expect(unresolved).not.toContain('ENOTFOUND');
  });
});
