import { CopyObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../lambdas/adapters/s3-blob-store.js';
import { parseOptions, type ProcessingOptions } from '../../lambdas/documents/options.js';
import {
  cacheEntryFor,
  optionsFingerprint,
  resultCacheKey,
  reuseCachedResult,
  type CacheEntry,
  type CacheKeyParts,
  type ResultCache,
} from '../../lambdas/core/result-cache.js';
import type { ResultPointer } from '../../lambdas/core/task.js';
import { copySourceRead, enforcePolicy, type IamNotice } from '../../local/iam.js';
import { MemoryBlobStore } from '../support/memory.js';

const OPTIONS: ProcessingOptions = { split: true, chunk_size: 500, chunk_overlap: 50 };
const PARTS: CacheKeyParts = {
  owner: 'key-a',
  input: { bytes: Buffer.from('Some text.'), filename: 'memo.txt', source: 'memo.txt', contentType: 'text/plain' },
  options: OPTIONS,
  limits: { maxInputBytes: 1000, maxPages: 50 },
};
const keyWith = (changes: Partial<CacheKeyParts>, input: Partial<CacheKeyParts['input']> = {}) =>
  resultCacheKey({ ...PARTS, ...changes, input: { ...PARTS.input, ...input } });

describe('the result cache key', () => {
  it('is the same for the same bytes, options, metadata and owner, however the options are ordered', () => {
    const reordered = { chunk_overlap: 50, chunk_size: 500, split: true } as ProcessingOptions;
    expect(keyWith({ options: reordered }, { bytes: new Uint8Array(Buffer.from('Some text.')) })).toBe(
      resultCacheKey(PARTS),
    );
    expect(resultCacheKey(PARTS)).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each<[string, Partial<CacheKeyParts>, Partial<CacheKeyParts['input']>?]>([
    ['another API key', { owner: 'key-b' }],
    ['other bytes', {}, { bytes: Buffer.from('Some text!') }],
    ['another file name', {}, { filename: 'other.txt' }],
    ['another source', {}, { source: 's3://bucket/inbox/memo.txt' }],
    ['another content type', {}, { contentType: 'text/html' }],
    ['no content type', {}, { contentType: undefined }],
    ['another chunk size', { options: { ...OPTIONS, chunk_size: 501 } }],
    ['split off', { options: { ...OPTIONS, split: false } }],
    ['a structure option at its default value', { options: { ...OPTIONS, output_format: 'text' } }],
    ['a page selection', { options: { ...OPTIONS, pages: '1-2' } }],
    ['other limits', { limits: { maxInputBytes: 1000, maxPages: 51 } }],
  ])('changes with %s', (_, changes, input) => {
    expect(keyWith(changes, input)).not.toBe(resultCacheKey(PARTS));
  });

  it('leaves no_cache out: it says how to run a task, not what its result is', () => {
    expect(keyWith({ options: { ...OPTIONS, no_cache: true } })).toBe(resultCacheKey(PARTS));
    expect(optionsFingerprint({ ...OPTIONS, no_cache: true })).toBe(optionsFingerprint(OPTIONS));
    expect(optionsFingerprint({ ...OPTIONS, tokenizer: undefined })).toBe(
      '{"chunk_overlap":50,"chunk_size":500,"split":true}',
    );
  });
});

describe('no_cache, the option', () => {
  it.each([
    [true, true],
    ['true', true],
    ['True', true],
    ['on', true],
  ])('reads no_cache=%j as a request to skip the cache', (value, _) => {
    expect(parseOptions({ no_cache: value })).toEqual({
      split: false,
      chunk_size: 1000,
      chunk_overlap: 200,
      no_cache: true,
    });
  });

  it.each([false, 'false', '0', undefined])('keeps no_cache=%j out of the options, as if never given', (value) => {
    expect(parseOptions({ no_cache: value })).toEqual({ split: false, chunk_size: 1000, chunk_overlap: 200 });
  });

  it('refuses anything else, naming the field', () => {
    expect(() => parseOptions({ no_cache: 'maybe' })).toThrow(/no_cache/);
  });
});

const POINTER: ResultPointer = {
  bucket: 'bucket',
  key: 'results/first/run.json',
  json_bytes: 3,
  headline: {
    status: 'success',
    filename: 'memo.txt',
    format: 'text',
    document_count: 0,
    warnings: [],
    stats: { bytes: 1, characters: 0 },
  },
};
const NOW = new Date('2026-11-28T12:00:00.000Z');
const memoryCache = (entries: Record<string, CacheEntry> = {}): ResultCache => ({
  get: async (key) => entries[key],
  put: async (key, entry) => void (entries[key] = entry),
});

describe('reuseCachedResult', () => {
  let blobs: MemoryBlobStore;
  const target = { bucket: 'bucket', key: 'results/second/run.json' };
  beforeEach(async () => {
    blobs = new MemoryBlobStore();
    await blobs.put('bucket', POINTER.key, '{}\n', 'application/json');
  });
  const lookUp = (entry: CacheEntry | undefined, now = NOW) =>
    reuseCachedResult({ cache: memoryCache(entry ? { k: entry } : {}), blobs, clock: { now: () => now } }, 'k', target);

  it('copies a live entry’s result to the task’s own key and points there', async () => {
    const lookup = await lookUp(cacheEntryFor(POINTER, NOW, 60));
    expect(lookup).toEqual({ hit: true, result: { ...POINTER, key: target.key } });
    expect(blobs.objects.get(`bucket/${target.key}`)?.bytes).toEqual(blobs.objects.get(`bucket/${POINTER.key}`)?.bytes);
  });

  it('misses with no entry, an entry past its time, a result that is gone, or one in another bucket', async () => {
    expect(await lookUp(undefined)).toEqual({ hit: false });
    const entry = cacheEntryFor(POINTER, NOW, 60);
    expect(await lookUp(entry, new Date(NOW.getTime() + 60_000))).toEqual({ hit: false });
    expect(await lookUp({ ...entry, result: { ...POINTER, bucket: 'elsewhere' } })).toEqual({ hit: false });
    await blobs.delete('bucket', POINTER.key);
    expect(await lookUp(entry)).toEqual({ hit: false });
    expect(blobs.keys(target.key)).toEqual([]);
  });

  it('dates an entry from when its result was stored', () => {
    expect(cacheEntryFor(POINTER, NOW, 3600).expires_at).toBe('2026-11-28T13:00:00.000Z');
  });
});

describe('S3BlobStore.copy', () => {
  const s3 = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const s3Mock = mockClient(s3);
  beforeEach(() => s3Mock.reset());

  it('copies within the bucket, the source key URL-encoded segment by segment', async () => {
    s3Mock.on(CopyObjectCommand).resolves({});
    expect(await new S3BlobStore(s3).copy('bucket', 'results/a b/ü.json', 'results/c/d.json')).toBe(true);
    expect(s3Mock.commandCalls(CopyObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'bucket',
      Key: 'results/c/d.json',
      CopySource: 'bucket/results/a%20b/%C3%BC.json',
    });
  });

  it('answers false for a source that is not there', async () => {
    s3Mock.on(CopyObjectCommand).rejects(Object.assign(new Error('gone'), { name: 'NoSuchKey' }));
    expect(await new S3BlobStore(s3).copy('bucket', 'results/a', 'results/b')).toBe(false);
  });

  it('throws on a refusal: it may be a grant missing on the target', async () => {
    s3Mock.on(CopyObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    await expect(new S3BlobStore(s3).copy('bucket', 'results/a', 'results/b')).rejects.toThrow('Access Denied');
  });
});

describe('CopyObject under the embedded stack’s IAM', () => {
  it('is a read of its source as well as a write of its target', async () => {
    expect(copySourceRead('CopyObjectCommand', { CopySource: 'bucket/results/a%20b.json' })).toEqual({
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::bucket/results/a b.json',
    });
    expect(copySourceRead('PutObjectCommand', { Key: 'x' })).toBeUndefined();

    // Refused before it is sent: the endpoint is never reached.
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    const notices: IamNotice[] = [];
    const unused = { middlewareStack: { add: () => undefined } };
    enforcePolicy(
      { s3, dynamo: unused, sqs: unused, events: unused, secrets: unused },
      {
        functionName: 'worker',
        // Write on results/, no read there.
        policy: [{ actions: ['s3:PutObject'], resources: ['arn:aws:s3:::bucket/results/*'] }],
        account: { region: 'us-east-1', account: '000000000000' },
        report: (notice) => notices.push(notice),
      },
    );
    await expect(
      s3.send(new CopyObjectCommand({ Bucket: 'bucket', Key: 'results/b.json', CopySource: 'bucket/results/a.json' })),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    expect(notices.filter((notice) => notice.iam === 'denied')).toEqual([
      { iam: 'denied', function: 'worker', action: 's3:GetObject', resource: 'arn:aws:s3:::bucket/results/a.json' },
    ]);
  });
});
