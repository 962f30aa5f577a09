import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * What S3 checks of a presigned request and the S3 emulator does not: the
 * SigV4 query signature (so a Content-Length or Content-Type other than the
 * signed one is refused, which is what bounds a presigned upload), the
 * expiry, and a CRC32 signed into the URL (an SDK that signs the checksum of
 * an empty body makes every real upload fail on S3). IAM, the signer's
 * permission for the action, is checked by the caller with the access key
 * the URL names.
 */
export interface PresignedRequest {
  method: string;
  /** The path as sent (still percent-encoded), without the query. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array | undefined;
}

export type PresignedVerdict =
  { ok: true; accessKeyId: string } | { ok: false; status: number; code: string; message: string };

/** Whether a request is presigned (signed in its query) rather than by an Authorization header. */
export const isPresigned = (query: URLSearchParams) => query.has('X-Amz-Signature');

type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytesOf = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** SigV4's hash and HMAC, from node:crypto (the shape `SignatureV4` asks for). */
class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData) {
    this.hash.update(bytesOf(data));
  }
  digest() {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

const refuse = (status: number, code: string, message: string): PresignedVerdict => ({
  ok: false,
  status,
  code,
  message,
});

const MISMATCH = refuse(
  403,
  'SignatureDoesNotMatch',
  'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
);

/** `20261128T060459Z` → epoch ms. */
const parseAmzDate = (value: string) => {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return Number.NaN;
  const [year = 0, month = 1, day, hour, minute, second] = match.slice(1).map(Number);
  return Date.UTC(year, month - 1, day, hour, minute, second);
};

const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(',') : value);

export const verifyPresigned = async (
  request: PresignedRequest,
  secretOf: (accessKeyId: string) => string | undefined,
  now = Date.now(),
): Promise<PresignedVerdict> => {
  const query = request.query;
  const [accessKeyId = '', date = '', region = '', service = '', terminator] = (
    query.get('X-Amz-Credential') ?? ''
  ).split('/');
  const signedAt = parseAmzDate(query.get('X-Amz-Date') ?? '');
  const expiresIn = Number(query.get('X-Amz-Expires'));
  if (
    query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256' ||
    terminator !== 'aws4_request' ||
    !Number.isFinite(signedAt) ||
    !Number.isInteger(expiresIn)
  ) {
    return refuse(400, 'AuthorizationQueryParametersError', 'The presigned URL is malformed.');
  }
  if (expiresIn < 1 || expiresIn > 604_800) {
    return refuse(
      400,
      'AuthorizationQueryParametersError',
      'X-Amz-Expires must be less than a week (in seconds) that is 604800.',
    );
  }
  const secret = secretOf(accessKeyId);
  if (secret === undefined) {
    return refuse(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  }
  if (now > signedAt + expiresIn * 1000) return refuse(403, 'AccessDenied', 'Request has expired');

  // Sign the request again as received, with the time the URL was signed at: the same request gives the same signature.
  const signedHeaders = (query.get('X-Amz-SignedHeaders') ?? '').split(';');
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = headerValue(request.headers[name]);
    if (value === undefined) return MISMATCH;
    headers[name] = value;
  }
  const rest: Record<string, string> = {};
  for (const [name, value] of query) {
    if (name === 'X-Amz-Signature') continue;
    // The presigner hoists x-amz-* headers into the query itself.
    if (name.toLowerCase().startsWith('x-amz-') && !/^x-amz-(checksum|sdk)/i.test(name)) headers[name] = value;
    else rest[name] = value;
  }
  const [hostname = '', port] = (headers.host ?? '').split(':');
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: secret },
    region,
    service,
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const presigned = await signer.presign(
    {
      method: request.method,
      protocol: 'http:',
      hostname,
      ...(port ? { port: Number(port) } : {}),
      path: request.path,
      query: rest,
      headers,
    },
    {
      signingDate: new Date(signedAt),
      expiresIn,
      signableHeaders: new Set(signedHeaders),
      unsignableHeaders: new Set(),
    },
  );
  const expected = Buffer.from(String(presigned.query?.['X-Amz-Signature'] ?? ''));
  const given = Buffer.from(query.get('X-Amz-Signature') ?? '');
  if (
    date !== (query.get('X-Amz-Date') ?? '').slice(0, 8) ||
    expected.length !== given.length ||
    !timingSafeEqual(expected, given)
  ) {
    return MISMATCH;
  }

  // A checksum signed into the URL is checked against the body.
  const signedCrc = query.get('x-amz-checksum-crc32') ?? headerValue(request.headers['x-amz-checksum-crc32']);
  if (signedCrc !== undefined && request.body !== undefined) {
    const actual = Buffer.alloc(4);
    actual.writeUInt32BE(crc32(request.body));
    if (actual.toString('base64') !== signedCrc) {
      return refuse(400, 'BadDigest', 'The CRC32 you specified did not match the calculated checksum.');
    }
  }
  return { ok: true, accessKeyId };
};

/** S3's error document. */
export const s3ErrorXml = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
