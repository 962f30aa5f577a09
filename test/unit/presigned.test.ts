import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
import { S3_CLIENT_OPTIONS } from '../../lambdas/adapters/clients.js';
import { verifyPresigned, type PresignedRequest } from '../../local/presigned.js';

/** The local S3's presigned-request check against URLs the real SDK presigns. */
const ENDPOINT = 'http://127.0.0.1:4566';
const client = (options: object = S3_CLIENT_OPTIONS) =>
  new S3Client({
    ...options,
    region: 'us-east-1',
    endpoint: ENDPOINT,
    forcePathStyle: true,
    credentials: { accessKeyId: 'local-uploadUrl', secretAccessKey: 'secret' },
  });

const presignPut = async (s3 = client(), key = 'uploads/task 1/input+ü', expiresIn = 900) =>
  new URL(
    await getSignedUrl(
      s3,
      new PutObjectCommand({
        Bucket: 'docproc-documents',
        Key: key,
        ContentType: 'application/pdf',
        ContentLength: 5,
      }),
      { expiresIn, signableHeaders: new Set(['content-type', 'content-length']) },
    ),
  );

const put = (url: URL, changes: Partial<PresignedRequest> & { headers?: Record<string, string> } = {}) => ({
  method: 'PUT',
  path: url.pathname,
  query: url.searchParams,
  body: Buffer.from('%PDF-'),
  ...changes,
  headers: { host: url.host, 'content-type': 'application/pdf', 'content-length': '5', ...changes.headers },
});

const secrets = (accessKeyId: string) => (accessKeyId === 'local-uploadUrl' ? 'secret' : undefined);

describe('presigned requests, as S3 checks them', () => {
  it('accepts the request the URL was signed for, PUT and GET', async () => {
    expect(await verifyPresigned(put(await presignPut()), secrets)).toEqual({
      ok: true,
      accessKeyId: 'local-uploadUrl',
    });
    const get = new URL(
      await getSignedUrl(client(), new GetObjectCommand({ Bucket: 'docproc-documents', Key: 'results/t/r.json' }), {
        expiresIn: 60,
      }),
    );
    const request = { method: 'GET', path: get.pathname, query: get.searchParams, headers: { host: get.host } };
    expect(await verifyPresigned({ ...request, body: undefined }, secrets)).toMatchObject({ ok: true });
  });

  it('refuses a body of another length, another content type, another key or method, as a mismatched signature', async () => {
    const url = await presignPut();
    const mismatch = { ok: false, status: 403, code: 'SignatureDoesNotMatch' };
    const longer = put(url, { headers: { 'content-length': '6' }, body: Buffer.from('%PDF-1') });
    expect(await verifyPresigned(longer, secrets)).toMatchObject(mismatch);
    expect(await verifyPresigned(put(url, { headers: { 'content-type': 'text/html' } }), secrets)).toMatchObject(
      mismatch,
    );
    const elsewhere = put(url, { path: url.pathname.replace('uploads/', 'results/') });
    expect(await verifyPresigned(elsewhere, secrets)).toMatchObject(mismatch);
    expect(await verifyPresigned(put(url, { method: 'DELETE' }), secrets)).toMatchObject(mismatch);
    const tampered = new URL(url);
    tampered.searchParams.set('X-Amz-Expires', '604800');
    expect(await verifyPresigned(put(tampered), secrets)).toMatchObject(mismatch);
    const { 'content-type': _, ...withoutType } = put(url).headers;
    expect(await verifyPresigned({ ...put(url), headers: withoutType }, secrets)).toMatchObject(mismatch);
  });

  it('refuses an expired URL, an unknown key and another secret', async () => {
    const url = await presignPut(client(), undefined, 60);
    expect(await verifyPresigned(put(url), secrets, Date.now() + 61_000)).toMatchObject({
      status: 403,
      code: 'AccessDenied',
      message: 'Request has expired',
    });
    expect(await verifyPresigned(put(url), () => undefined)).toMatchObject({ code: 'InvalidAccessKeyId' });
    expect(await verifyPresigned(put(url), () => 'another secret')).toMatchObject({ code: 'SignatureDoesNotMatch' });
  });

  it('refuses a malformed or week-long URL with 400', async () => {
    const url = await presignPut();
    for (const [name, value] of [
      ['X-Amz-Algorithm', 'AWS4-HMAC-SHA1'],
      ['X-Amz-Date', 'yesterday'],
      ['X-Amz-Credential', 'local-uploadUrl'],
      ['X-Amz-Expires', '604801'],
    ]) {
      const broken = new URL(url);
      broken.searchParams.set(name!, value!);
      expect(await verifyPresigned(put(broken), secrets), name).toMatchObject({ ok: false, status: 400 });
    }
  });

  // With the SDK's default checksums, a presigned PUT carries the CRC32 of an empty body and S3 refuses every upload.
  it('refuses a body whose CRC32 is not the one signed into the URL (the SDK default the service turns off)', async () => {
    const sdkDefaults = await presignPut(client({}));
    expect(sdkDefaults.searchParams.get('x-amz-checksum-crc32')).toBe('AAAAAA==');
    expect(await verifyPresigned(put(sdkDefaults), secrets)).toMatchObject({ status: 400, code: 'BadDigest' });
    expect(
      await verifyPresigned(put(sdkDefaults, { body: Buffer.alloc(0), headers: { 'content-length': '0' } }), secrets),
    ).toMatchObject({
      code: 'SignatureDoesNotMatch',
    });
    expect((await presignPut()).searchParams.has('x-amz-checksum-crc32')).toBe(false);
  });
});
