import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import { makeUploadEventsHandler } from '../../lambdas/consumers/upload-events.js';
import type { UploadEventsDeps } from '../../lambdas/consumers/maintenance-deps.js';
import { dropTaskId } from '../../lambdas/core/drop-folder.js';
import type { QueueClass, TaskMessage } from '../../lambdas/core/task.js';
import { taskMetrics } from '../../lambdas/observability.js';
import { lambdaContext } from '../support/api.js';
import { startTestTable, type TestTable } from '../support/dynalite.js';
import { recordingEvents } from '../support/events.js';
import { aTask } from '../support/fixtures.js';
import { MemoryBlobStore, MemoryQueue } from '../support/memory.js';

const BUCKET = 'docproc-documents';
const OWNER = 'key-id-1';
const THRESHOLD = 1000;

/** S3 as the drop folder sees it: objects with their user metadata (names lower-cased, without x-amz-meta-). */
class S3WithMetadata extends MemoryBlobStore {
  readonly metadata = new Map<string, Record<string, string>>();

  async drop(key: string, body: string, metadata: Record<string, string> = {}) {
    await this.put(BUCKET, key, body, 'application/octet-stream');
    this.metadata.set(`${BUCKET}/${key}`, metadata);
  }

  override async head(bucket: string, key: string) {
    const head = await super.head(bucket, key);
    return head && { ...head, metadata: this.metadata.get(`${bucket}/${key}`) ?? {} };
  }
}

/** A queue that refuses the next `failures` sends, as SQS does when it is unreachable. */
class FlakyQueue extends MemoryQueue {
  failures = 0;
  override async send(queue: QueueClass, message: TaskMessage) {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('injected: SQS unreachable');
    }
    return super.send(queue, message);
  }
}

let table: TestTable;
let store: DynamoTaskStore;
let queue: FlakyQueue;
let s3: S3WithMetadata;
let events: ReturnType<typeof recordingEvents>;
let sequence = 0;

/** An ObjectCreated record as S3 sends it: the key URL-encoded (spaces as +), a new sequencer per write. */
const created = (key: string, object: { sequencer?: string; versionId?: string; bucket?: string } = {}) => ({
  eventName: 'ObjectCreated:Put',
  s3: {
    bucket: { name: object.bucket ?? BUCKET },
    object: {
      key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+'),
      size: 1,
      eTag: 'd41d8cd98f00b204e9800998ecf8427e',
      sequencer: object.sequencer ?? `00${(++sequence).toString(16).padStart(14, '0').toUpperCase()}`,
      ...(object.versionId ? { versionId: object.versionId } : {}),
    },
  },
});

const sqs = (...notifications: Array<ReturnType<typeof created>>): SQSEvent =>
  ({
    Records: notifications.map((record, index) => ({
      messageId: `m${index}`,
      body: JSON.stringify({ Records: [record] }),
    })),
  }) as SQSEvent;

const deps = (dropFolder = true): UploadEventsDeps => ({
  store,
  queue,
  clock: { now: () => new Date() },
  metrics: taskMetrics,
  events: events.sink,
  ...(dropFolder
    ? {
        dropFolder: {
          blobs: s3,
          settings: {
            owner: OWNER,
            policy: {
              bucket: BUCKET,
              taskRetentionDays: 7,
              largeInputThresholdBytes: THRESHOLD,
              presignedUrlTtlSeconds: 0,
            },
          },
        },
      }
    : {}),
});
const handler = makeUploadEventsHandler(() => deps());

/** The tasks the owner lists, newest first. */
const listed = async () => (await store.list({ owner: OWNER, limit: 100 })).tasks;

beforeAll(async () => {
  table = await startTestTable();
  store = new DynamoTaskStore(table.client, table.tableName);
});
afterAll(async () => table.close());
beforeEach(async () => {
  queue = new FlakyQueue();
  s3 = new S3WithMetadata();
  events = recordingEvents();
  // Each test lists only its own tasks: a fresh table per test would cost a dynalite per test.
  for (const task of await listed()) await store.remove(task.task_id);
});

describe('drop folder', () => {
  it('makes an ordinary s3:// task of an object written under inbox/, with the default options, queued by size', async () => {
    await s3.drop('inbox/reports/annual report.pdf', 'small');
    await s3.drop('inbox/big.pdf', 'x'.repeat(THRESHOLD + 1));

    const response = await handler(
      sqs(created('inbox/reports/annual report.pdf'), created('inbox/big.pdf')),
      lambdaContext(),
    );

    expect(response.batchItemFailures).toEqual([]);
    const tasks = await listed();
    expect(tasks).toHaveLength(2);
    const small = tasks.find((task) => task.source.filename === 'annual report.pdf');
    expect(small).toMatchObject({
      status: 'PENDING',
      owner: OWNER,
      queue: 'standard',
      source: { type: 's3', uri: `s3://${BUCKET}/inbox/reports/annual report.pdf`, size_bytes: 5 },
      input: { kind: 's3', bucket: BUCKET, key: 'inbox/reports/annual report.pdf' },
      options: { split: false, chunk_size: 1000, chunk_overlap: 200 },
    });
    const big = tasks.find((task) => task.source.filename === 'big.pdf');
    expect(big?.queue).toBe('large');
    expect(queue.sent.map(({ queue: name, message }) => [name, message.task_id]).sort()).toEqual(
      [
        ['standard', small?.task_id],
        ['large', big?.task_id],
      ].sort(),
    );
  });

  it('takes the options from x-amz-meta-docproc-* metadata, "-" or "_" alike, and leaves other metadata alone', async () => {
    await s3.drop('inbox/a.md', '# A', {
      'docproc-split': 'true',
      'docproc-chunk-size': '500',
      'docproc-chunk_overlap': '50',
      'docproc-output-format': 'markdown',
      'docproc-pages': '2-3,1',
      'uploaded-by': 'some other tool',
    });

    await handler(sqs(created('inbox/a.md')), lambdaContext());

    const [task] = await listed();
    expect(task?.status).toBe('PENDING');
    expect(task?.options).toEqual({
      split: true,
      chunk_size: 500,
      chunk_overlap: 50,
      output_format: 'markdown',
      pages: '1-3',
    });
  });

  it.each([
    // The routes' own messages for these form fields, under the header's name.
    [{ 'docproc-chunk-size': 'big' }, 'Invalid object metadata: x-amz-meta-docproc-chunk-size: '],
    [{ 'docproc-split': 'maybe' }, 'Invalid object metadata: x-amz-meta-docproc-split: '],
    [{ 'docproc-chunk-size': '100' }, 'x-amz-meta-docproc-chunk-overlap: chunk_overlap (the default) is 200'],
    [{ 'docproc-chunksize': '500' }, 'x-amz-meta-docproc-chunksize: not an option'],
    // The drop folder is given no knowledge-base destinations: naming one is refused, not dropped.
    [{ 'docproc-destination': 'kb:docs' }, 'no knowledge-base destination kb:docs'],
  ])(
    'records an object with invalid metadata %j as a FAILURE task naming the header, never queued',
    async (metadata, message) => {
      await s3.drop('inbox/bad.pdf', 'bytes', metadata);

      const response = await handler(sqs(created('inbox/bad.pdf')), lambdaContext());

      expect(response.batchItemFailures).toEqual([]);
      const failed = (await store.list({ owner: OWNER, status: 'FAILURE', limit: 10 })).tasks;
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({
        status: 'FAILURE',
        source: { type: 's3', uri: `s3://${BUCKET}/inbox/bad.pdf` },
        error: { code: 'VALIDATION_ERROR', retryable: false },
      });
      expect(failed[0]?.error?.message).toContain(message);
      expect(failed[0]?.finished_at).toBeDefined();
      expect(queue.sent).toEqual([]);
      // Announced like any failure, and taken off the outbox once sent.
      expect(events.sent.map(({ task, event }) => [task.task_id, event.type])).toEqual([
        [failed[0]?.task_id, 'task.failed'],
      ]);
      expect((await store.get(failed[0]!.task_id))?.outbox ?? []).toEqual([]);
    },
  );

  it('leaves a failure it could not announce in the outbox, where the janitor sweep finds it', async () => {
    events = recordingEvents({ failing: true });
    await s3.drop('inbox/bad.pdf', 'bytes', { 'docproc-split': 'maybe' });

    await handler(sqs(created('inbox/bad.pdf')), lambdaContext());

    const [task] = await store.listWithPendingEvents(new Date(Date.now() + 1000).toISOString(), 10);
    expect(task).toMatchObject({ status: 'FAILURE', outbox: [{ type: 'task.failed' }] });
  });

  it('makes one task of a repeated notification, and a new one when the key is written again', async () => {
    await s3.drop('inbox/a.txt', 'hello');
    const first = created('inbox/a.txt');

    // The same event twice in a batch, in a later delivery, and twice at once.
    await handler(sqs(first, first), lambdaContext());
    await handler(sqs(first), lambdaContext());
    await Promise.all([handler(sqs(first), lambdaContext()), handler(sqs(first), lambdaContext())]);

    expect(await listed()).toHaveLength(1);
    expect(queue.sent).toHaveLength(1);

    // The same bytes written again: S3 sends a new sequencer.
    const again = await handler(sqs(created('inbox/a.txt')), lambdaContext());
    expect(again.batchItemFailures).toEqual([]);
    expect(await listed()).toHaveLength(2);
    expect(queue.sent).toHaveLength(2);
  });

  it('derives the task id from the bucket, the key and the write: the version when the bucket keeps versions', () => {
    const object = { bucket: BUCKET, key: 'inbox/a.txt' };
    const id = dropTaskId(object, 'sequencer:01');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(dropTaskId(object, 'sequencer:01')).toBe(id);
    for (const other of [
      dropTaskId(object, 'sequencer:02'),
      dropTaskId({ ...object, key: 'inbox/b.txt' }, 'sequencer:01'),
      dropTaskId({ ...object, bucket: 'other' }, 'sequencer:01'),
    ])
      expect(other).not.toBe(id);
  });

  it('tells writes apart by version id when there is one', async () => {
    await s3.drop('inbox/v.txt', 'hello');
    await handler(
      sqs(
        created('inbox/v.txt', { sequencer: '01', versionId: 'v1' }),
        created('inbox/v.txt', { sequencer: '01', versionId: 'v2' }),
      ),
      lambdaContext(),
    );
    expect(await listed()).toHaveLength(2);
  });

  it('fails the record when the task cannot be queued, leaving no task, so that the next delivery makes it', async () => {
    await s3.drop('inbox/a.txt', 'hello');
    const event = created('inbox/a.txt');
    queue.failures = 1;

    const failed = await handler(sqs(event), lambdaContext());
    expect(failed.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }]);
    expect(await listed()).toEqual([]);

    const redelivered = await handler(sqs(event), lambdaContext());
    expect(redelivered.batchItemFailures).toEqual([]);
    expect(await listed()).toHaveLength(1);
    expect(queue.sent).toHaveLength(1);
  });

  it('makes nothing of an object deleted before it was read, a folder placeholder, or another bucket', async () => {
    await s3.drop('inbox/reports/', '');
    await s3.drop('inbox/elsewhere.txt', 'hello');

    const response = await handler(
      sqs(
        created('inbox/deleted.txt'),
        created('inbox/reports/'),
        created('inbox/elsewhere.txt', { bucket: 'someone-elses-bucket' }),
      ),
      lambdaContext(),
    );

    expect(response.batchItemFailures).toEqual([]);
    expect(await listed()).toEqual([]);
    expect(queue.sent).toEqual([]);
  });

  it('routes by prefix: uploads/ still start their task, and inbox/ makes nothing while the drop folder is off', async () => {
    const awaiting = aTask({
      task_id: '30000000-0000-4000-8000-000000000001',
      status: 'AWAITING_UPLOAD',
      owner: OWNER,
      source: { type: 'presigned', filename: 'up.pdf', size_bytes: 1 },
      expires_at: new Date(Date.now() + 86400_000).toISOString(),
    });
    await store.create(awaiting);
    await s3.drop('inbox/a.txt', 'hello');
    const off = makeUploadEventsHandler(() => deps(false));

    await off(sqs(created(`uploads/${awaiting.task_id}/input`), created('inbox/a.txt')), lambdaContext());

    expect((await listed()).map((task) => [task.task_id, task.status])).toEqual([[awaiting.task_id, 'PENDING']]);
    expect(queue.sent.map(({ message }) => message.task_id)).toEqual([awaiting.task_id]);
  });
});
