import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, isRemote, startTarget, type Api, type Target } from '../support/target.js';

/**
 * The result cache on the embedded stack, with two API keys: the same
 * document uploaded again by the same key is served from the cache (its own
 * result object, the same result, `cached: true`, announced as any success);
 * by the other key, or with `no_cache`, it is parsed again. The functions'
 * IAM is the catalogue's: the hit's CopyObject must be allowed by it.
 */
const KEY_A = 'cache-test-key-a';
const KEY_B = 'cache-test-key-b';
const FILE = 'pdf/layout-parser-paper-fast.pdf';
const OPTIONS = { split: 'true', chunk_size: '500', chunk_overlap: '50' };

let target: Target;
let api: Api;

beforeAll(async () => {
  if (isRemote()) return;
  target = await startTarget({ apiKeys: [KEY_A, KEY_B] });
  api = apiClient(target);
});
afterAll(async () => target?.stop());

/** Uploads the document as `key`, and answers its task once final. */
const uploadAs = async (key: string, fields: Record<string, string> = {}) => {
  const response = await api.upload(FILE, { ...OPTIONS, ...fields }, { 'x-api-key': key });
  expect(response.status, await response.clone().text()).toBe(202);
  const { task_id: id } = (await response.json()) as { task_id: string };
  const deadline = Date.now() + 60_000;
  const poll = async () => {
    for (;;) {
      if (Date.now() > deadline) throw new Error(`task ${id} not final after 60 s`);
      const task = (await (
        await fetch(`${target.apiUrl}/tasks/${id}`, { headers: { 'x-api-key': key } })
      ).json()) as Record<string, any>;
      if (['SUCCESS', 'FAILURE', 'REVOKED'].includes(task.status as string)) return task;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return poll();
};

describe.skipIf(isRemote())('the result cache on the embedded stack', () => {
  it('serves the same document to the same key from the cache, and to another key or with no_cache by parsing it', async () => {
    const first = await uploadAs(KEY_A);
    expect(first.status).toBe('SUCCESS');
    expect(first).not.toHaveProperty('cached');
    expect(first.result.document_count).toBeGreaterThan(1);

    const again = await uploadAs(KEY_A);
    expect(again).toMatchObject({ status: 'SUCCESS', progress: 100, stage: 'done', cached: true });
    expect(again.result).toEqual(first.result);
    expect(again.options).toEqual(first.options);

    // Another key never sees the first key's entry: parsed, and the same result all the same.
    const otherKey = await uploadAs(KEY_B);
    expect(otherKey.status).toBe('SUCCESS');
    expect(otherKey).not.toHaveProperty('cached');
    expect(otherKey.result).toEqual(first.result);

    // no_cache: parsed again; other options: another key in the cache.
    const fresh = await uploadAs(KEY_A, { no_cache: 'true' });
    expect(fresh.status).toBe('SUCCESS');
    expect(fresh).not.toHaveProperty('cached');
    expect(fresh.options).toMatchObject({ no_cache: true });
    const otherOptions = await uploadAs(KEY_A, { chunk_size: '400' });
    expect(otherOptions).not.toHaveProperty('cached');

    // Each task has a result object of its own, that lives and expires with it.
    const local = target.local!;
    for (const task of [first, again, otherKey, fresh]) {
      const listed = await local.clients.s3.send(
        new ListObjectsV2Command({ Bucket: local.bucketName, Prefix: `results/${task.task_id}/` }),
      );
      expect(listed.Contents ?? [], task.task_id).toHaveLength(1);
    }

    // Announced as every success: Started, then Succeeded with the view as the change left it.
    for (let tries = 0; tries < 50; tries++) {
      if (
        local
          .busEvents()
          .some((event) => (event.detail as any).task_id === again.task_id && event['detail-type'] === 'Task Succeeded')
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const announced = local.busEvents().filter((event) => (event.detail as any).task_id === again.task_id);
    expect(announced.map((event) => [event['detail-type'], (event.detail as any).cached])).toEqual([
      ['Task Started', undefined],
      ['Task Succeeded', true],
    ]);
    expect(local.iam.denied).toEqual([]);
  }, 120_000);
});
