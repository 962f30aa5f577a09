import { describe, expect, it } from 'vitest';
import {
  CHUNKS_PER_BATCH,
  TransformEventError,
  transformBatches,
  type TransformDeps,
} from '../../lambdas/knowledge-base/transform.js';
import { makeTransformHandler } from '../../lambdas/knowledge-base/transform-handler.js';
import type { Document } from '../../lambdas/documents/document.js';
import type { Task } from '../../lambdas/core/task.js';

/**
 * The transformation against fixtures of the published contract (the Bedrock
 * user guide, "Use a custom transformation Lambda function"): the event the
 * KB sends after chunking, the content batch files it writes, the answer it
 * reads back.
 */
const INTERMEDIATE = 'kb-intermediate';
const DOCS = 'kb-docs';
const TASK_ID = '6f1c2a9e-3b7d-4c58-9e21-0a4b5c6d7e8f';
const DOC_KEY = `legal/${TASK_ID}/handbook.md`;

const chunk = (page: number, text: string, extra: Document['metadata'] = {}): Document => ({
  page_content: text,
  metadata: { source: 'handbook.pdf', page, ...extra },
});

const makeDeps = (documents: Document[], overrides: Partial<Task> = {}) => {
  const objects = new Map<string, string>();
  const task: Task = {
    task_id: TASK_ID,
    status: 'SUCCESS',
    progress: 100,
    stage: 'done',
    source: { type: 'upload', filename: 'handbook.pdf', size_bytes: 100 },
    input: { kind: 's3', bucket: 'service', key: `direct/${TASK_ID}/input` },
    options: { split: true, chunk_size: 1000, chunk_overlap: 200, destination: 'kb:legal' },
    queue: 'standard',
    attempts: 1,
    created_at: '2026-12-07T00:00:00Z',
    updated_at: '2026-12-07T00:00:00Z',
    expires_at: '2026-12-14T00:00:00Z',
    owner: 'key-a',
    result: {
      bucket: 'service',
      key: `results/${TASK_ID}/run.json`,
      json_bytes: 1,
      headline: {
        status: 'success',
        filename: 'handbook.pdf',
        format: 'pdf',
        document_count: documents.length,
        warnings: [],
        stats: { bytes: 100, characters: 10 },
      },
      delivered: {
        destination: 'kb:legal',
        bucket: DOCS,
        document_key: DOC_KEY,
        sidecar_key: `${DOC_KEY}.metadata.json`,
      },
    },
    ...overrides,
  };
  objects.set(`service/results/${TASK_ID}/run.json`, JSON.stringify({ documents }));
  const writes: string[] = [];
  const logs: Array<{ level: string; message: string; detail: Record<string, unknown> }> = [];
  const deps: TransformDeps = {
    getTask: async (taskId) => (taskId === TASK_ID ? task : undefined),
    read: async (bucket, key, maxBytes) => {
      const body = objects.get(`${bucket}/${key}`);
      if (body === undefined)
        throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
      if (Buffer.byteLength(body) > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
      return Buffer.from(body);
    },
    write: async (bucket, key, body) => {
      writes.push(`${bucket}/${key}`);
      objects.set(`${bucket}/${key}`, body);
    },
    maxBytes: 1024 * 1024,
    log: (level, message, detail) => logs.push({ level, message, detail }),
  };
  return { deps, objects, writes, logs };
};

/** A batch file as the KB writes it: its own chunks, with its own metadata. */
const kbBatch = (texts: string[], sourceUri = `s3://${DOCS}/${DOC_KEY}`) =>
  JSON.stringify({
    fileContents: texts.map((text) => ({
      contentBody: text,
      contentType: 'TEXT',
      contentMetadata: { 'x-amz-bedrock-kb-source-uri': sourceUri, team: 'legal' },
    })),
  });

const event = (files: Array<{ key: string; metadata?: Record<string, unknown>; batches: string[] }>) => ({
  version: '1.0',
  knowledgeBaseId: 'KB12345678',
  dataSourceId: 'DS12345678',
  ingestionJobId: 'JOB1234567',
  bucketName: INTERMEDIATE,
  priorTask: 'CHUNKING',
  inputFiles: files.map((file) => ({
    originalFileLocation: { type: 'S3', s3_location: { key: file.key, bucket: DOCS } },
    fileMetadata: file.metadata ?? {},
    contentBatches: file.batches.map((key) => ({ key })),
  })),
});

describe('the knowledge-base transformation', () => {
  it("answers a document the service delivered with its own chunks: heading path, pages, boxes and the KB's own attributes", async () => {
    const documents = [
      chunk(1, '## Safety\n\nWear gloves.', {
        headings: ['Handbook', 'Safety'],
        chunk_index: 0,
        boxes: [
          { page: 1, x0: 72, y0: 100, x1: 300, y1: 112 },
          { page: 1, x0: 72, y0: 114, x1: 250.04, y1: 126 },
        ],
      }),
      chunk(2, '| Tool | Use |\n| --- | --- |\n| Saw | Cut |', { headings: ['Handbook', 'Tools'], chunk_index: 1 }),
      chunk(3, '   ', { chunk_index: 2 }),
    ];
    const { deps, objects, writes } = makeDeps(documents);
    objects.set(`${INTERMEDIATE}/aws/in/1.json`, kbBatch(['the KB chunk']));
    const response = await transformBatches(
      deps,
      event([{ key: DOC_KEY, metadata: { task_id: TASK_ID, team: 'legal' }, batches: ['aws/in/1.json'] }]),
    );
    expect(response.outputFiles).toHaveLength(1);
    const [file] = response.outputFiles;
    expect(file?.originalFileLocation).toEqual({ type: 'S3', s3_location: { key: DOC_KEY, bucket: DOCS } });
    expect(file?.fileMetadata).toEqual({ task_id: TASK_ID, team: 'legal' });
    expect(file?.contentBatches).toHaveLength(1);
    expect(writes).toEqual([`${INTERMEDIATE}/${file?.contentBatches[0]?.key}`]);
    const written = JSON.parse(objects.get(`${INTERMEDIATE}/${file?.contentBatches[0]?.key}`) ?? '') as {
      fileContents: Array<{ contentBody: string; contentType: string; contentMetadata: Record<string, unknown> }>;
    };
    // The empty chunk is not indexed.
    expect(written.fileContents.map((content) => content.contentBody)).toEqual([
      documents[0]?.page_content,
      documents[1]?.page_content,
    ]);
    expect(written.fileContents[0]).toEqual({
      contentBody: documents[0]?.page_content,
      contentType: 'TEXT',
      contentMetadata: {
        'x-amz-bedrock-kb-source-uri': `s3://${DOCS}/${DOC_KEY}`,
        task_id: TASK_ID,
        page: 1,
        chunk_index: 0,
        headings: ['Handbook', 'Safety'],
        heading_path: 'Handbook > Safety',
        boxes: ['1:72,100,300,126'],
      },
    });
    expect(written.fileContents[1]?.contentMetadata).toMatchObject({ page: 2, heading_path: 'Handbook > Tools' });
    expect(written.fileContents[1]?.contentMetadata).not.toHaveProperty('team');
  });

  it(`writes at most ${CHUNKS_PER_BATCH} chunks per batch file, in order`, async () => {
    const documents = Array.from({ length: CHUNKS_PER_BATCH * 2 + 5 }, (_, index) => chunk(1, `chunk ${index}`));
    const { deps, objects } = makeDeps(documents);
    objects.set(`${INTERMEDIATE}/aws/in/1.json`, kbBatch(['x']));
    const [file] = (await transformBatches(deps, event([{ key: DOC_KEY, batches: ['aws/in/1.json'] }]))).outputFiles;
    const sizes = (file?.contentBatches ?? []).map(
      ({ key }) =>
        (JSON.parse(objects.get(`${INTERMEDIATE}/${key}`) ?? '') as { fileContents: unknown[] }).fileContents.length,
    );
    expect(sizes).toEqual([CHUNKS_PER_BATCH, CHUNKS_PER_BATCH, 5]);
    const last = JSON.parse(objects.get(`${INTERMEDIATE}/${file?.contentBatches[2]?.key}`) ?? '') as {
      fileContents: Array<{ contentBody: string }>;
    };
    expect(last.fileContents.at(-1)?.contentBody).toBe(`chunk ${CHUNKS_PER_BATCH * 2 + 4}`);
  });

  it("keeps the KB's chunks, untouched, for a document without the service's result", async () => {
    const { deps, writes } = makeDeps([chunk(1, 'ours')]);
    const files = [
      // Not ours at all: no task id anywhere.
      { key: 'legal/manual.pdf', metadata: { team: 'legal' }, batches: ['aws/in/a.json', 'aws/in/b.json'] },
      // A task id the table does not have (expired).
      { key: 'legal/1b4e28ba-2fa1-41d2-883f-0016d3cca427/old.md', batches: ['aws/in/c.json'] },
      // A sidecar that borrows our task's id for another object: it cannot have that task's chunks.
      { key: 'legal/elsewhere/stolen.md', metadata: { task_id: TASK_ID }, batches: ['aws/in/d.json'] },
    ];
    const response = await transformBatches(deps, event(files));
    expect(response.outputFiles.map((file) => file.contentBatches.map(({ key }) => key))).toEqual([
      ['aws/in/a.json', 'aws/in/b.json'],
      ['aws/in/c.json'],
      ['aws/in/d.json'],
    ]);
    expect(response.outputFiles[0]?.fileMetadata).toEqual({ team: 'legal' });
    expect(writes).toEqual([]);
  });

  it("keeps the KB's chunks when the task has not succeeded or its result has expired", async () => {
    const failed = makeDeps([chunk(1, 'ours')], { status: 'FAILURE' });
    const kept = await transformBatches(failed.deps, event([{ key: DOC_KEY, batches: ['aws/in/1.json'] }]));
    expect(kept.outputFiles[0]?.contentBatches).toEqual([{ key: 'aws/in/1.json' }]);
    const expired = makeDeps([chunk(1, 'ours')]);
    expired.objects.delete(`service/results/${TASK_ID}/run.json`);
    const gone = await transformBatches(expired.deps, event([{ key: DOC_KEY, batches: ['aws/in/1.json'] }]));
    expect(gone.outputFiles[0]?.contentBatches).toEqual([{ key: 'aws/in/1.json' }]);
    expect(expired.logs.at(-1)?.detail.reason).toMatch(/could not be read/);
  });

  it("keeps the KB's chunks of a document whose batch file is oversized or malformed, and says which", async () => {
    const { deps, objects, writes, logs } = makeDeps([chunk(1, 'ours')]);
    objects.set(`${INTERMEDIATE}/aws/in/huge.json`, kbBatch(['y'.repeat(2 * 1024 * 1024)]));
    objects.set(`${INTERMEDIATE}/aws/in/broken.json`, '{"fileContents": [');
    objects.set(`${INTERMEDIATE}/aws/in/shape.json`, '{"contents": []}');
    for (const key of ['aws/in/huge.json', 'aws/in/broken.json', 'aws/in/shape.json']) {
      const response = await transformBatches(deps, event([{ key: DOC_KEY, batches: [key] }]));
      expect(response.outputFiles[0]?.contentBatches).toEqual([{ key }]);
      expect(logs.at(-1)).toMatchObject({ level: 'warn', detail: { file: DOC_KEY } });
      expect(String(logs.at(-1)?.detail.reason)).toContain(key);
    }
    expect(writes).toEqual([]);
  });

  it('refuses an event that is not the contract, naming the field, before writing anything', async () => {
    const { deps, writes } = makeDeps([chunk(1, 'ours')]);
    for (const bad of [
      null,
      { version: '1.0' },
      { ...event([]), inputFiles: [{ originalFileLocation: { type: 'S3' }, contentBatches: [] }] },
      {
        ...event([{ key: DOC_KEY, batches: [] }]),
        inputFiles: [{ ...event([{ key: DOC_KEY, batches: ['a'] }]).inputFiles[0], contentBatches: [{}] }],
      },
    ]) {
      await expect(transformBatches(deps, bad)).rejects.toThrow(TransformEventError);
    }
    await expect(transformBatches(deps, { version: '1.0' })).rejects.toThrow(/bucketName/);
    expect(writes).toEqual([]);
  });

  it('reads and writes only the intermediate bucket it was deployed with', async () => {
    const { deps } = makeDeps([chunk(1, 'ours')]);
    const handler = makeTransformHandler(() => ({ ...deps, intermediateBucket: INTERMEDIATE }));
    await expect(handler({ ...event([]), bucketName: 'someone-elses' })).rejects.toThrow(/reads only kb-intermediate/);
    await expect(handler(event([]))).resolves.toEqual({ outputFiles: [] });
  });

  it('finds the task from the key the worker wrote when the KB passes no file metadata', async () => {
    const { deps, objects } = makeDeps([chunk(1, 'ours')]);
    objects.set(`${INTERMEDIATE}/aws/in/1.json`, kbBatch(['x']));
    const response = await transformBatches(deps, {
      ...event([]),
      inputFiles: [
        {
          originalFileLocation: { type: 'S3', s3_location: { key: `s3://${DOCS}/${DOC_KEY}` } },
          contentBatches: [{ key: 'aws/in/1.json' }],
        },
      ],
    });
    expect(response.outputFiles[0]?.contentBatches[0]?.key).toMatch(/^docproc\/JOB1234567\//);
    expect(response.outputFiles[0]).not.toHaveProperty('fileMetadata');
  });
});
