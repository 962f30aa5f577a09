import type { Random } from './random.js';

/**
 * Requests for the HTTP boundary: valid ones of every route, then mutated
 * (multipart bodies bit-flipped, truncated, re-bounded, with duplicate,
 * bracketed or oversized fields; JSON of the wrong types and sizes; odd
 * headers, ids and queries). The oracle: never a 5xx, every 4xx in the
 * service's error shape, and the server still answers afterwards.
 */
export interface HttpCase {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: Buffer | undefined;
}

const TEXT = [
  '',
  'a',
  'true',
  'True',
  '0',
  '-1',
  '1e309',
  'NaN',
  '999999999999',
  ' 5 ',
  'null',
  '\u0000',
  'é',
  '中文',
  '😀',
];

const multipart = (boundary: string, parts: Array<{ headers: string[]; content: Buffer | string }>) =>
  Buffer.concat([
    ...parts.flatMap((part) => [
      Buffer.from(`--${boundary}\r\n${part.headers.join('\r\n')}\r\n\r\n`, 'latin1'),
      Buffer.isBuffer(part.content) ? part.content : Buffer.from(part.content),
      Buffer.from('\r\n'),
    ]),
    Buffer.from(`--${boundary}--\r\n`),
  ]);

const randomJson = (random: Random, depth = 0): unknown => {
  switch (random.int(depth > 3 ? 5 : 7)) {
    case 0:
      return random.pick(TEXT);
    case 1:
      return random.pick([0, -1, 1.5, 2 ** 53, -(2 ** 31), 1e308, 100000, 1001]);
    case 2:
      return random.pick([true, false, null]);
    case 3:
      return 'x'.repeat(random.pick([1, 1000, 100_000, 600_000]));
    case 4:
      return random.pick([
        'https://example.com/a.pdf',
        'http://[::1]/',
        's3://docproc-documents/inbox/../x',
        'file:///etc/passwd',
      ]);
    case 5:
      return Array.from({ length: random.int(4) }, () => randomJson(random, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: random.int(5) }, () => [
          random.pick([
            'source',
            'split',
            'chunk_size',
            'chunk_overlap',
            'filename',
            'size_bytes',
            'content_type',
            '__proto__',
            'x',
          ]),
          randomJson(random, depth + 1),
        ]),
      );
  }
};

const flip = (body: Buffer, random: Random): Buffer => {
  const out = Buffer.from(body);
  for (let flips = 1 + random.int(8); flips > 0 && out.length; flips--) out[random.int(out.length)] = random.int(256);
  return out;
};

const ODD_IDS = [
  '00000000-0000-4000-8000-000000000000',
  '..%2F..%2Fetc%2Fpasswd',
  'x'.repeat(2000),
  '%00',
  '%F0%9F%98%80',
  'ABCDEF00-0000-4000-8000-000000000000',
];

export const httpCase = (random: Random): HttpCase => {
  const boundary = random.pick(['B', 'x'.repeat(70), '----WebKitFormBoundary7MA4YWxkTrZu0gW', "a'()+_,-./:=?"]);
  switch (random.int(6)) {
    case 0:
    case 1: {
      const fields = [
        { name: 'file', filename: random.pick(['a.txt', '../../x.pdf', '报告.pdf', 'a\u0007b', '', 'x'.repeat(300)]) },
        ...Array.from({ length: random.int(5) }, () => ({
          name: random.pick(['split', 'chunk_size', 'chunk_overlap', 'split[]', 'file', 'x', 'chunk_size[a]']),
        })),
      ];
      const parts = fields.map((field) => ({
        headers: [
          `Content-Disposition: form-data; name="${field.name}"${'filename' in field ? `; filename="${field.filename}"` : ''}`,
          ...(random.chance(0.3)
            ? [`Content-Type: ${random.pick(['text/plain; charset=shift_jis', ';;', 'x', 'application/pdf'])}`]
            : []),
        ],
        content:
          'filename' in field
            ? Buffer.from(random.pick(['hello world', '%PDF-1.4 x', 'PK\u0003\u0004']))
            : random.pick(TEXT),
      }));
      let body: Buffer = multipart(boundary, parts);
      const mutation = random.int(4);
      if (mutation === 1) body = flip(body, random);
      if (mutation === 2) body = body.subarray(0, random.int(body.length + 1));
      const contentType = random.pick([
        `multipart/form-data; boundary=${boundary}`,
        `multipart/form-data; boundary="${boundary}"`,
        'multipart/form-data',
        `multipart/form-data; boundary=${boundary}x`,
        'text/plain',
      ]);
      return {
        name: `upload (mutation ${mutation}, ${contentType})`,
        method: 'POST',
        path: '/upload',
        headers: { 'content-type': contentType },
        body,
      };
    }
    case 2: {
      const json = JSON.stringify(randomJson(random));
      const form = random.chance(0.3);
      return {
        name: form ? 'process (form)' : 'process (JSON)',
        method: 'POST',
        path: '/process',
        headers: {
          'content-type': form
            ? 'application/x-www-form-urlencoded'
            : random.pick(['application/json', 'application/vnd.x+json', 'text/json']),
          ...(random.chance(0.2) ? { 'idempotency-key': random.pick(['k', ' x', 'é', 'x'.repeat(200), 'a\tb']) } : {}),
        },
        body: form
          ? Buffer.from(random.pick(['source=a&source=b', 'split=maybe', '%zz', 'source=s3%3A%2F%2Fx%2Fy']))
          : random.chance(0.2)
            ? flip(Buffer.from(json), random)
            : Buffer.from(json),
      };
    }
    case 3:
      return {
        name: 'upload-url (JSON)',
        method: 'POST',
        path: '/upload-url',
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify(randomJson(random))),
      };
    case 4: {
      const query = Array.from(
        { length: random.int(4) },
        () =>
          `${random.pick(['status', 'limit', 'next_token', 'x'])}=${encodeURIComponent(random.pick([...TEXT, 'SUCCESS', '5', 'eyJwayI6MX0']))}`,
      ).join('&');
      return { name: 'list', method: 'GET', path: `/tasks${query ? `?${query}` : ''}`, headers: {} };
    }
    default: {
      const id = random.pick(ODD_IDS);
      const action = random.pick(['', '/cancel', '/retry']);
      return {
        name: `task ${action || 'get'}`,
        method: action ? 'POST' : 'GET',
        path: `/tasks/${id}${action}`,
        headers: {},
      };
    }
  }
};

export type HttpVerdict = { ok: true; status: number } | { ok: false; problem: string };

/** Sends one case; a 5xx, a body out of shape or a connection failure is a finding. */
export const runHttpCase = async (
  apiUrl: string,
  input: HttpCase,
  extraHeaders: Record<string, string> = {},
): Promise<HttpVerdict> => {
  let response: Response;
  try {
    response = await fetch(`${apiUrl}${input.path}`, {
      method: input.method,
      headers: { ...extraHeaders, ...input.headers },
      ...(input.body ? { body: input.body } : {}),
    });
  } catch (error) {
    return { ok: false, problem: `no answer: ${String(error)}` };
  }
  const text = await response.text();
  if (response.status >= 500) return { ok: false, problem: `${response.status}: ${text.slice(0, 300)}` };
  if (response.status >= 400) {
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      if (typeof body.error?.code !== 'string' || typeof body.error.message !== 'string') {
        return { ok: false, problem: `${response.status} out of shape: ${text.slice(0, 300)}` };
      }
    } catch {
      return { ok: false, problem: `${response.status} not JSON: ${text.slice(0, 300)}` };
    }
  }
  return { ok: true, status: response.status };
};
