import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localApiKeyId } from '../../local/api-gateway.js';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import { S3BlobStore } from '../../lambdas/adapters/s3-blob-store.js';
import { transformBatches } from '../../lambdas/knowledge-base/transform.js';
import { KB_SIDECAR_MAX_BYTES } from '../../shared/knowledge-base.js';
import { apiClient, isRemote, startTarget, type Api, type Target } from '../support/target.js';

/**
 * Knowledge-base delivery on the embedded stack, up to the Bedrock API (its
 * local stand-in records the ingestion jobs): a batch of reference documents
 * lands as Markdown plus metadata sidecars under a destination prefix, the
 * batch starts one sync of its data source, and the transformation turns a
 * delivered document's KB batch file into the service's chunks.
 */
const SET = resolve(
  process.env.DOCPROC_BENCHMARKS ?? resolve(import.meta.dirname, '../../../shared/benchmarks/docling'),
);
/** One reference document per format family the batch reads. */
const REFERENCE = [
  'pdf/code_and_formula.pdf',
  'docx/lorem_ipsum.docx',
  'html/example_01.html',
  'pptx/powerpoint_sample.pptx',
  'xlsx/xlsx_01.xlsx',
  'epub/' + (readdirSync(join(SET, 'epub')).find((name) => name.endsWith('.epub')) ?? ''),
];
const KEYS = ['kb-key-one', 'kb-key-two'];
const KB_BUCKET = 'kb-reference';
const INTERMEDIATE = 'kb-intermediate';

let target: Target;
let api: Api;
let other: Api;
let s3: S3Client;

beforeAll(async () => {
  if (isRemote()) return;
  target = await startTarget({
    apiKeys: KEYS,
    config: {
      kbDestinations: {
        docs: {
          bucket: KB_BUCKET,
          prefix: 'reference/',
          keys: [localApiKeyId(KEYS[0]!)],
          knowledgeBaseId: 'KBLOCAL001',
          dataSourceId: 'DSLOCAL001',
          attributes: { collection: 'docling-reference' },
        },
        open: { bucket: KB_BUCKET, prefix: 'open/', keys: ['*'] },
      },
    },
  });
  api = apiClient(target);
  other = apiClient({ ...target, headers: { 'x-api-key': KEYS[1]! } });
  s3 = new S3Client({
    endpoint: target.local!.s3Endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    forcePathStyle: true,
  });
});
afterAll(async () => {
  s3?.destroy();
  await target?.stop();
});

const text = async (bucket: string, key: string): Promise<string> => {
  const { Body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await Body?.transformToString('utf8')) ?? '';
};

const waitForBatch = async (id: string): Promise<Record<string, any>> => {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const batch = (await (await api.get(`/batches/${id}`)).json()) as Record<string, any>;
    if (String(batch.status).startsWith('COMPLETED') && batch.ingestion?.job_id) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id}: ${JSON.stringify(batch)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
};

describe.skipIf(isRemote())('knowledge-base destinations', () => {
  it('lands a batch of reference documents as Markdown plus KB sidecars, then starts one sync of the data source', async () => {
    const local = target.local!;
    for (const file of REFERENCE) {
      await s3.send(
        new PutObjectCommand({
          Bucket: local.bucketName,
          Key: `inbox/kb/${file.split('/').pop()}`,
          Body: readFileSync(join(SET, file)),
        }),
      );
    }
    const response = await api.postJson('/batches', {
      source: `s3://${local.bucketName}/inbox/kb/`,
      destination: 'kb:docs',
      output_format: 'markdown',
      split: true,
    });
    expect(response.status, await response.clone().text()).toBe(202);
    const { batch_id: batchId } = (await response.json()) as { batch_id: string };
    const batch = await waitForBatch(batchId);
    expect(batch.counts).toMatchObject({ SUCCESS: REFERENCE.length, FAILURE: 0 });
    expect(batch.options.destination).toBe('kb:docs');
    expect(batch.ingestion).toMatchObject({ destination: 'kb:docs', documents: REFERENCE.length, state: 'STARTING' });
    expect(local.ingestionJobs()).toEqual([
      expect.objectContaining({
        knowledgeBaseId: 'KBLOCAL001',
        dataSourceId: 'DSLOCAL001',
        ingestionJobId: batch.ingestion.job_id,
      }),
    ]);

    const { tasks } = (await (await api.get(`/batches/${batchId}/tasks?limit=100`)).json()) as {
      tasks: Array<Record<string, any>>;
    };
    expect(tasks).toHaveLength(REFERENCE.length);
    const { Contents = [] } = await s3.send(new ListObjectsV2Command({ Bucket: KB_BUCKET, Prefix: 'reference/' }));
    // A document and its sidecar per task, nothing else.
    expect(Contents).toHaveLength(2 * REFERENCE.length);
    for (const task of tasks) {
      const view = (await (await api.get(`/tasks/${task.task_id as string}`)).json()) as Record<string, any>;
      const stem = String(view.source.filename).replace(/\.[^.]+$/, '');
      const documentKey = `reference/${task.task_id as string}/${stem}.md`;
      expect(view.delivered).toEqual({
        destination: 'kb:docs',
        document: `s3://${KB_BUCKET}/${documentKey}`,
        metadata: `s3://${KB_BUCKET}/${documentKey}.metadata.json`,
      });
      const body = await text(KB_BUCKET, documentKey);
      const firstChunk = String(view.result.documents[0].page_content);
      expect(body.length).toBeGreaterThan(0);
      expect(body).toContain(firstChunk.slice(0, 40));
      const sidecarText = await text(KB_BUCKET, `${documentKey}.metadata.json`);
      expect(Buffer.byteLength(sidecarText)).toBeLessThanOrEqual(KB_SIDECAR_MAX_BYTES);
      const sidecar = JSON.parse(sidecarText) as { metadataAttributes: Record<string, unknown> };
      expect(Object.keys(sidecar)).toEqual(['metadataAttributes']);
      expect(sidecar.metadataAttributes).toMatchObject({
        collection: 'docling-reference',
        task_id: task.task_id,
        batch_id: batchId,
        filename: view.source.filename,
        source: `s3://${local.bucketName}/inbox/kb/${view.source.filename as string}`,
        format: view.result.format,
      });
      for (const [name, value] of Object.entries(sidecar.metadataAttributes)) {
        const typed =
          (typeof value === 'string' && value.length > 0 && value.length <= 2048) ||
          typeof value === 'number' ||
          typeof value === 'boolean' ||
          (Array.isArray(value) && value.length <= 10 && value.every((item) => typeof item === 'string'));
        expect(typed, `${name}: ${JSON.stringify(value)}`).toBe(true);
      }
    }

    // The KB's post-chunking call for one delivered document gets the service's chunks back.
    const [first] = tasks;
    const view = (await (await api.get(`/tasks/${first?.task_id as string}`)).json()) as Record<string, any>;
    const documentKey = String(view.delivered.document).replace(`s3://${KB_BUCKET}/`, '');
    await s3.send(new CreateBucketCommand({ Bucket: INTERMEDIATE }));
    await s3.send(
      new PutObjectCommand({
        Bucket: INTERMEDIATE,
        Key: 'aws/bedrock/knowledge_base/KBLOCAL001/DSLOCAL001/JOB/1.json',
        Body: JSON.stringify({
          fileContents: [{ contentBody: 'the whole file', contentType: 'TEXT', contentMetadata: {} }],
        }),
      }),
    );
    const store = new DynamoTaskStore(local.clients.dynamo, local.tableName);
    const blobs = new S3BlobStore(local.clients.s3);
    const sidecar = JSON.parse(await text(KB_BUCKET, `${documentKey}.metadata.json`)) as {
      metadataAttributes: Record<string, unknown>;
    };
    const answer = await transformBatches(
      {
        getTask: (taskId) => store.get(taskId),
        read: async (bucket, key, maxBytes) => (await blobs.get(bucket, key, maxBytes)).bytes,
        write: (bucket, key, body) => blobs.put(bucket, key, body, 'application/json'),
        maxBytes: 50 * 1024 * 1024,
        log: () => undefined,
      },
      {
        version: '1.0',
        knowledgeBaseId: 'KBLOCAL001',
        dataSourceId: 'DSLOCAL001',
        ingestionJobId: batch.ingestion.job_id,
        bucketName: INTERMEDIATE,
        priorTask: 'CHUNKING',
        inputFiles: [
          {
            originalFileLocation: { type: 'S3', s3_location: { key: documentKey, bucket: KB_BUCKET } },
            fileMetadata: sidecar.metadataAttributes,
            contentBatches: [{ key: 'aws/bedrock/knowledge_base/KBLOCAL001/DSLOCAL001/JOB/1.json' }],
          },
        ],
      },
    );
    const keys = answer.outputFiles[0]?.contentBatches.map(({ key }) => key) ?? [];
    const chunks = [];
    for (const key of keys) {
      chunks.push(
        ...(JSON.parse(await text(INTERMEDIATE, key)) as { fileContents: Array<{ contentBody: string }> }).fileContents,
      );
    }
    const ours = (view.result.documents as Array<{ page_content: string }>).filter((doc) => doc.page_content.trim());
    expect(chunks.map((content) => content.contentBody)).toEqual(ours.map((doc) => doc.page_content));
    expect(local.iam.denied).toEqual([]);
    // The grants the destinations add were each used: the writes, the batch's counts, the sync.
    const used = [...local.iam.used].join('\n');
    expect(used).toMatch(/^worker \d+ s3:PutObject arn:aws:s3:::kb-reference\/reference\/\*/m);
    expect(used).toMatch(/^worker \d+ dynamodb:BatchGetItem /m);
    expect(used).toMatch(
      /^worker \d+ bedrock:StartIngestionJob arn:aws:bedrock:[\w-]+:\d+:knowledge-base\/KBLOCAL001/m,
    );
  });

  it('delivers a single upload to a destination every key may name, without a sync (it names no knowledge base)', async () => {
    const response = await other.upload('pdf/fake-memo.pdf', { destination: 'kb:open' });
    expect(response.status, await response.clone().text()).toBe(202);
    const { task_id: taskId } = (await response.json()) as { task_id: string };
    const done = await other.waitFor(taskId);
    expect(done.status).toBe('SUCCESS');
    expect(done.delivered.document).toBe(`s3://${KB_BUCKET}/open/${taskId}/fake-memo.txt`);
    expect((await text(KB_BUCKET, `open/${taskId}/fake-memo.txt`)).length).toBeGreaterThan(0);
    expect(target.local!.ingestionJobs().every((job) => job.knowledgeBaseId === 'KBLOCAL001')).toBe(true);
  });

  it("refuses a destination the caller's key may not name with a 400 that lists the ones it may", async () => {
    const refused = await other.upload('pdf/fake-memo.pdf', { destination: 'kb:docs' });
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('VALIDATION_ERROR');
    expect(body.error.message).toContain('it may name: kb:open');
    expect(body.error.message).not.toContain('kb:docs,');
    const batch = await other.postJson('/batches', { sources: ['https://example.com/a.pdf'], destination: 'kb:nope' });
    expect(batch.status).toBe(400);
    expect(((await batch.json()) as { error: { message: string } }).error.message).toContain('kb:nope');
  });
});
