import { randomUUID } from 'node:crypto';
import { CopyObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pngOf } from '../support/images.js';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import { OPTION_DEFAULTS } from '../../lambdas/documents/options.js';
import { ANONYMOUS_OWNER, type Task } from '../../lambdas/core/task.js';
import type { FunctionName, PolicyStatementSpec } from '../../lib/function-catalogue.js';
import type { LocalStack, LocalStackOptions } from '../../local/stack.js';
import { apiClient, isRemote, startFixtureServer, startTarget, type Api, type Target } from '../support/target.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { scannedPdf, scanOf } from '../../fuzz/scans.js';

/**
 * Least privilege, checked from both sides. The embedded stack enforces each
 * function's catalogue policy (the one the CDK stack attaches) on every AWS
 * call and on every URL it presigns. Here every path of the service runs, the
 * failure paths too, and then every action and every resource of every
 * statement must have been used: a grant nothing uses is one too many, and a
 * grant missing fails a path (which the denied list would show).
 */
const OPTIONS: LocalStackOptions = {
  // Large inputs from 1 MB, so that both queues (and both workers) are exercised with small files.
  // Scans of two pages are read in parts (one page each), on both queues.
  config: { largeInputThresholdMb: 1, maxReceiveCount: 1, ocrFanOutMinPages: 2, ocrPagesPerPart: 1 },
  // Short enough for the poison message to reach its DLQ soon, long enough for a cold worker on a loaded 2-core machine.
  timing: {
    workerTimeoutMs: 10_000,
    softTimeLimitMarginMs: 300,
    visibilityTimeoutSeconds: 12,
    leaseMarginMs: 100,
    // A webhook's first retry after about a second.
    webhookRetryScale: 0.02,
    // Batch pages of two: three objects make two pages.
    batchPageSize: 2,
  },
  faults: {
    crashFilenames: ['poison.txt'],
    cancelWhileStoring: ['cancelled.txt', 'cancelled-large.txt'],
    missingPartInputs: ['inbox/vanishing.pdf'],
  },
};
const LARGE = 'Large input, past the one-megabyte threshold of this stack. '.repeat(20_000);

let target: Target;
let api: Api;
let stack: LocalStack;
let fixtures: Awaited<ReturnType<typeof startFixtureServer>>;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
/** Grants used on the second stack, whose functions may not send to the queues (the rollback paths). */
const usedWithoutQueues = new Set<string>();

beforeAll(async () => {
  if (isRemote()) return;
  target = await startTarget(OPTIONS);
  api = apiClient(target);
  stack = target.local!;
  fixtures = await startFixtureServer();
  receiver = await startWebhookReceiver(stack.webhookSecret);
});
afterAll(async () => {
  await receiver?.close();
  await fixtures?.close();
  await target?.stop();
});

const accepted = async (response: Response, status = 202) => {
  expect(response.status, await response.clone().text()).toBe(status);
  return (await response.json()) as { task_id: string; upload: { url: string; headers: Record<string, string> } };
};

const textForm = (name: string, text: string, fields: Record<string, string> = {}) => {
  const form = new FormData();
  form.append('file', new Blob([text]), name);
  for (const [field, value] of Object.entries(fields)) form.append(field, value);
  return form;
};

const uploadText = async (
  name: string,
  text: string,
  headers: Record<string, string> = {},
  fields: Record<string, string> = {},
) => api.post('/upload', textForm(name, text, fields), headers);

/**
 * Tasks that call back, on the path of each function that changes a status:
 * each then announces on the bus and queues a webhook delivery (both its grants).
 */
const callingBack = () => ({
  callback_url: `${receiver.url}/ok`,
  callback_events: 'task.started,task.succeeded,task.failed,task.revoked',
});

const previewSource = async (source: string) =>
  api.preview(JSON.stringify({ source }), { 'content-type': 'application/json' });

const putInbox = (key: string, body: string | Buffer) =>
  stack.clients.s3.send(new PutObjectCommand({ Bucket: stack.bucketName, Key: `inbox/${key}`, Body: body }));

const processS3 = async (key: string, headers: Record<string, string> = {}, status = 202) =>
  (await accepted(await api.postJson('/process', { source: `s3://${stack.bucketName}/inbox/${key}` }, headers), status))
    .task_id;

const presigned = async (
  filename: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
  contentType = 'text/plain',
) => {
  const request = { filename, content_type: contentType, size_bytes: Buffer.byteLength(body) };
  const created = await accepted(await api.postJson('/upload-url', request, headers), 201);
  // A replay answers the same task (and its URL again).
  if (headers['idempotency-key']) {
    expect((await accepted(await api.postJson('/upload-url', request, headers), 200)).task_id).toBe(created.task_id);
  }
  const put = await fetch(created.upload.url, { method: 'PUT', body, headers: created.upload.headers });
  expect(put.status).toBe(200);
  return created.task_id;
};

/** A task row as a lost message or a lost S3 event leaves it, for the janitor. */
const abandoned = (changes: Partial<Task>): Task => {
  const longAgo = new Date(Date.now() - 3 * 3600_000).toISOString();
  const id = randomUUID();
  return {
    task_id: id,
    status: 'PENDING',
    progress: 0,
    stage: 'queued',
    source: { type: 'presigned', filename: 'lost.txt', size_bytes: 10 },
    input: { kind: 's3', bucket: stack.bucketName, key: `uploads/${id}/input` },
    options: { ...OPTION_DEFAULTS },
    queue: 'standard',
    attempts: 1,
    created_at: longAgo,
    updated_at: longAgo,
    expires_at: new Date(Date.now() + 86400_000).toISOString(),
    owner: ANONYMOUS_OWNER,
    ...changes,
  };
};

describe.skipIf(isRemote())('IAM on the embedded stack', () => {
  it('runs every path of the service with no call refused', async () => {
    const waitAll = (ids: string[]) => Promise.all(ids.map((id) => api.waitFor(id, undefined, 60_000)));
    // Direct uploads, small and large, a replay of one (its second copy is deleted), one that crashes every run.
    const small = (await accepted(await uploadText('small.txt', 'A small upload.'))).task_id;
    const large = (await accepted(await uploadText('large.txt', LARGE, {}, callingBack()))).task_id;
    const once = { 'idempotency-key': randomUUID() };
    const first = (await accepted(await uploadText('once.txt', 'Sent twice.', once))).task_id;
    expect((await accepted(await uploadText('once.txt', 'Sent twice.', once), 200)).task_id).toBe(first);
    const poison = (await accepted(await uploadText('poison.txt', 'Crashes the worker.', {}, callingBack()))).task_id;
    // s3:// sources, small and large; a missing one is a 400 (a 404 from S3, which needs s3:ListBucket).
    await putInbox('small.txt', 'From the inbox.'); // 15 bytes
    await putInbox('large.txt', LARGE);
    const inboxOnce = { 'idempotency-key': randomUUID() };
    const fromInbox = [await processS3('small.txt', inboxOnce), await processS3('large.txt')];
    expect(await processS3('small.txt', inboxOnce, 200)).toBe(fromInbox[0]);
    const missing = await api.postJson('/process', { source: `s3://${stack.bucketName}/inbox/none.txt` });
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('SOURCE_NOT_FOUND');
    // Presigned uploads, small and large (the upload event starts them).
    const viaUrl = [
      await presigned('presigned.txt', 'Uploaded to a URL.', { 'idempotency-key': randomUUID() }),
      await presigned('big.txt', LARGE),
    ];
    // Cancelled while the result is stored, on each queue: the worker deletes the result it wrote.
    const cancelled = (await accepted(await uploadText('cancelled.txt', 'Cancelled at the end.'))).task_id;
    await putInbox('cancelled-large.txt', LARGE);
    const cancelledLarge = await processS3('cancelled-large.txt');

    const done = await waitAll([small, large, first, ...fromInbox, ...viaUrl]);
    for (const task of done) expect(task.status, JSON.stringify(task)).toBe('SUCCESS');
    // The same uploads again, on each queue: served from the result cache, a copy of the first result (a read of
    // results/); checked below, while the poison task is still on its way to the DLQ.
    const again = [
      (await accepted(await uploadText('small.txt', 'A small upload.'))).task_id,
      (await accepted(await uploadText('large.txt', LARGE))).task_id,
    ];
    for (const id of [cancelled, cancelledLarge]) expect((await api.waitFor(id)).status).toBe('REVOKED');
    expect(stack.faults.filter((fault) => fault.startsWith('cancel-while-storing'))).toHaveLength(2);

    // Webhooks: a receiver that answers 503 first (the consumer reads the secret, logs, queues its retry), the
    // result linked in the webhook (presigned by the consumer), the delivery log, and a redelivery.
    const hookedForm = textForm('hooked.txt', 'Announced by webhook.');
    hookedForm.append('callback_url', `${receiver.url}/flaky`);
    const hooked = (await accepted(await api.post('/upload', hookedForm))).task_id;
    expect((await api.waitFor(hooked)).status).toBe('SUCCESS');
    await receiver.until(() => receiver.forTask(hooked).length === 2);
    const [announcedWebhook] = receiver.forTask(hooked);
    expect((await fetch(announcedWebhook!.body.data.result.result_url as string)).status).toBe(200);
    const log = await api.get(`/tasks/${hooked}/deliveries`);
    const [delivery] = ((await log.json()) as { deliveries: Array<{ delivery_id: string }> }).deliveries;
    expect((await api.post(`/tasks/${hooked}/deliveries/${delivery!.delivery_id}/redeliver`)).status).toBe(202);
    await receiver.until(() => receiver.forTask(hooked).length === 3);

    // Figures: the worker stores them beside the result; the figure route reads the task and heads the picture,
    // and its presigned link is fetched (made with that function's credentials).
    const pictured = `<p>A figure.</p><img src="data:image/png;base64,${pngOf(64, 48).toString('base64')}" alt="A chart">`;
    const withFigures = (await accepted(await uploadText('figure.html', pictured, {}, { figures: 'refs' }))).task_id;
    const figured = await api.waitFor(withFigures, undefined, 60_000);
    expect(figured.status, JSON.stringify(figured)).toBe('SUCCESS');
    const [figure] = figured.result.figures as Array<{ id: string }>;
    const link = await api.get(`/tasks/${withFigures}/figures/${figure!.id}`);
    expect(link.status).toBe(200);
    expect((await fetch(((await link.json()) as { url: string }).url)).status).toBe(200);

    // A large result is read through a URL getTask presigns.
    const largeResult = await api.get(`/tasks/${large}`);
    expect(largeResult.status).toBe(200);

    // Previews (once the workers above, on their short timeouts, are done): a file and a URL (no grant),
    // an s3:// source (its HEAD and GET), a missing one (a 404: s3:ListBucket).
    expect((await api.preview(textForm('preview.txt', 'Previewed.'))).status).toBe(200);
    expect((await previewSource(`${fixtures.url}/corpus/text/fake-text.txt`)).status).toBe(200);
    expect((await previewSource(`s3://${stack.bucketName}/inbox/small.txt`)).status).toBe(200);
    const notThere = await previewSource(`s3://${stack.bucketName}/inbox/none.txt`);
    expect(((await notThere.json()) as { error: { code: string } }).error.code).toBe('SOURCE_NOT_FOUND');

    for (const task of await waitAll(again)) {
      expect(task, JSON.stringify(task)).toMatchObject({ status: 'SUCCESS', cached: true });
    }

    // The dead-letter consumer fails the poison task; a retry queues it again (standard), and a failed large one (large).
    expect(await api.waitFor(poison, undefined, 60_000)).toMatchObject({
      status: 'FAILURE',
      error: { code: 'WORKER_CRASHED' },
    });
    const broken = (await accepted(await uploadText('broken.pdf', `%PDF-1.7\n${LARGE}`))).task_id;
    expect((await api.waitFor(broken)).status).toBe('FAILURE');
    for (const id of [poison, broken]) await accepted(await api.post(`/tasks/${id}/retry`));
    await waitAll([poison, broken]);

    // Cancel one waiting for its upload; list by status.
    const waiting = await accepted(
      await api.postJson('/upload-url', {
        filename: 'never.txt',
        size_bytes: 10,
        content_type: 'text/plain',
        ...callingBack(),
      }),
      201,
    );
    expect((await api.post(`/tasks/${waiting.task_id}/cancel`)).status).toBe(200);
    // An object other than the one announced (written past the URL, as the bucket owner may): the upload
    // listener fails the task.
    const mismatched = await accepted(
      await api.postJson('/upload-url', {
        filename: 'other.txt',
        size_bytes: 10,
        content_type: 'text/plain',
        ...callingBack(),
      }),
      201,
    );
    await stack.clients.s3.send(
      new PutObjectCommand({
        Bucket: stack.bucketName,
        Key: `uploads/${mismatched.task_id}/input`,
        Body: 'Twenty bytes long!!!',
      }),
    );
    expect(await api.waitFor(mismatched.task_id)).toMatchObject({ error: { code: 'UPLOAD_SIZE_MISMATCH' } });
    expect((await api.get('/tasks?status=SUCCESS&limit=5')).status).toBe(200);

    // The janitor: an upload whose event was lost (object there, small and large), one never uploaded
    // (the object is missing: a 404 needs s3:ListBucket), and PENDING rows whose messages were lost, on each queue.
    const store = new DynamoTaskStore(stack.clients.dynamo, stack.tableName);
    const expired = {
      status: 'AWAITING_UPLOAD' as const,
      upload_expires_at: new Date(Date.now() - 3600_000).toISOString(),
    };
    // Objects whose event is lost: keys outside the upload layout, so that the copy's own event (S3 notifies copies
    // too) is ignored by the upload-events consumer and only the janitor finds them.
    const lostInput = (name: string) => ({
      kind: 's3' as const,
      bucket: stack.bucketName,
      key: `uploads/lost/${name}`,
    });
    const lostEvent = abandoned({
      ...expired,
      source: { type: 'presigned', filename: 'lost.txt', size_bytes: 15 },
      input: lostInput('small'),
    });
    const lostLargeEvent = abandoned({
      ...expired,
      source: { type: 'presigned', filename: 'lost.txt', size_bytes: LARGE.length },
      input: lostInput('large'),
    });
    const neverUploaded = abandoned({
      ...expired,
      callback: { url: `${receiver.url}/ok`, events: ['task.failed'] },
    });
    const lostMessage = abandoned({ input: { kind: 's3', bucket: stack.bucketName, key: 'uploads/gone/input' } });
    const lostLargeMessage = abandoned({
      queue: 'large',
      input: { kind: 's3', bucket: stack.bucketName, key: 'direct/gone/input' },
    });
    for (const task of [lostEvent, lostLargeEvent, neverUploaded, lostMessage, lostLargeMessage]) {
      await store.create(task);
    }
    for (const [task, source] of [
      [lostEvent, 'inbox/small.txt'],
      [lostLargeEvent, 'inbox/large.txt'],
    ] as const) {
      await stack.clients.s3.send(
        new CopyObjectCommand({
          Bucket: stack.bucketName,
          Key: (task.input as { key: string }).key,
          CopySource: `${stack.bucketName}/${source}`,
        }),
      );
    }
    expect(await stack.invoke('janitor', {})).toEqual({
      uploadsExpired: 1,
      uploadsRecovered: 2,
      requeued: 2,
      eventsSent: 0,
      errors: 0,
    });
    const swept = await waitAll(
      [lostEvent, lostLargeEvent, neverUploaded, lostMessage, lostLargeMessage].map((task) => task.task_id),
    );
    // The lost messages name objects that are gone: each worker reads a 404 (s3:ListBucket), not a 403.
    expect(swept.map((task) => task.error?.code ?? task.status)).toEqual([
      'SUCCESS',
      'SUCCESS',
      'UPLOAD_EXPIRED',
      'SOURCE_NOT_FOUND',
      'SOURCE_NOT_FOUND',
    ]);

    expect(stack.iam.denied).toEqual([]);
  }, 90_000); // Every path, and a poison message through its DLQ (a 12 s visibility timeout): about 30 s on 2 cores.

  it('reads scans in parts from every place an input is, on both queues, with no call refused', async () => {
    const pages = await Promise.all(
      [['Tide tables for the harbour'], ['Moorings are let by the year']].map((lines) => scanOf(lines)),
    );
    const scan = scannedPdf(pages);
    // Past the one-megabyte threshold: the large worker plans it.
    const largeScan = scannedPdf(pages, { paddingBytes: 1024 * 1024 });
    const form = new FormData();
    form.append('file', new Blob([scan]), 'scan.pdf');
    for (const [field, value] of Object.entries(callingBack())) form.append(field, value);
    const direct = (await accepted(await api.post('/upload', form))).task_id;
    await putInbox('scan.pdf', scan);
    const inbox = await processS3('scan.pdf');
    const large = await presigned('large-scan.pdf', largeScan, {}, 'application/pdf');
    await putInbox('vanishing.pdf', scan);
    const vanishing = await processS3('vanishing.pdf');
    for (const id of [direct, inbox, large]) {
      const task = await api.waitFor(id, undefined, 60_000);
      expect(task.status, JSON.stringify(task.error)).toBe('SUCCESS');
      expect(task.fan_out).toMatchObject({ parts: 2, parts_done: 2 });
    }
    const gone = await api.waitFor(vanishing, undefined, 60_000);
    expect(gone).toMatchObject({ status: 'FAILURE', error: { code: 'SOURCE_NOT_FOUND' } });
    expect(gone.error.message).toMatch(/^Pages [12]: /);
    await receiver.until(() => receiver.forTask(direct).length === 2);
    expect(stack.iam.denied).toEqual([]);
  });

  it('runs every batch path with no call refused', async () => {
    const waitForBatch = async (id: string, statuses: string[]) => {
      for (let waited = 0; waited < 90_000; waited += 200) {
        const batch = (await (await api.get(`/batches/${id}`)).json()) as {
          status: string;
          counts: Record<string, number>;
        };
        if (statuses.includes(batch.status)) return batch;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error(`batch ${id} never reached ${statuses.join('/')}`);
    };
    const created = async (body: unknown) =>
      ((await accepted(await api.postJson('/batches', body))) as unknown as { batch_id: string }).batch_id;
    // A prefix over two pages (pages of two here): the lister lists only under inbox/, queues both queues and itself.
    await putInbox('batch-iam/a.txt', 'First of a prefix.');
    await putInbox('batch-iam/b.txt', 'Second of a prefix.');
    await putInbox('batch-iam/c.txt', LARGE);
    const prefix = await created({ source: `s3://${stack.bucketName}/inbox/batch-iam/`, ...callingBack() });
    expect((await waitForBatch(prefix, ['COMPLETED'])).counts.SUCCESS).toBe(3);
    // A list with a failing source; its tasks listed; its failure retried (the retry sweep queries and queues).
    const mixed = await created({
      sources: [`s3://${stack.bucketName}/inbox/batch-iam/a.txt`, `${fixtures.url}/missing.txt`],
    });
    expect((await waitForBatch(mixed, ['COMPLETED_WITH_ERRORS'])).counts.FAILURE).toBe(1);
    expect((await api.get(`/batches/${mixed}/tasks?status=FAILURE`)).status).toBe(200);
    expect((await api.post(`/batches/${mixed}/retry`)).status).toBe(202);
    await waitForBatch(mixed, ['COMPLETED_WITH_ERRORS']);
    // The same batch request again with its Idempotency-Key: the batch it made (the key's record read back).
    const once = { 'idempotency-key': randomUUID() };
    const body = { sources: [`s3://${stack.bucketName}/inbox/batch-iam/b.txt`] };
    const keyed = (await accepted(await api.postJson('/batches', body, once))) as unknown as { batch_id: string };
    const replay = await api.postJson('/batches', body, once);
    expect(replay.status).toBe(200);
    expect(((await replay.json()) as { batch_id: string }).batch_id).toBe(keyed.batch_id);
    // A missing object in a list: S3's 404 (s3:ListBucket), a 400 for the whole batch.
    const missing = await api.postJson('/batches', { sources: [`s3://${stack.bucketName}/inbox/batch-iam/none.txt`] });
    expect(missing.status).toBe(400);
    // Cancelled while its tasks are held: the sweep revokes them (announced: bus and webhooks).
    const held = await created({
      sources: [`${fixtures.url}/hold/iam-batch-0`, `${fixtures.url}/hold/iam-batch-1`],
      ...callingBack(),
    });
    for (let waited = 0; waited < 30_000 && !fixtures.isHeld('iam-batch-0'); waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await api.post(`/batches/${held}/cancel`)).status).toBe(202);
    expect((await waitForBatch(held, ['REVOKED'])).counts).toBeDefined();
    for (let waited = 0; waited < 30_000; waited += 200) {
      const batch = (await (await api.get(`/batches/${held}`)).json()) as { counts: Record<string, number> };
      if (batch.counts.REVOKED === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    fixtures.release('iam-batch-0');
    fixtures.release('iam-batch-1');
    // A batch task whose change a dead function never announced: the janitor sends it and counts it (a read and
    // a conditional update of the batch's counter item).
    const store = new DynamoTaskStore(stack.clients.dynamo, stack.tableName);
    const [child] = (await store.listBatch({ batchId: mixed, status: 'FAILURE', limit: 10 })).tasks;
    const revived = await store.transition(
      child!,
      'retry',
      { attempts: child!.attempts + 1 },
      { attempt: child!.attempts },
    );
    expect(revived?.outbox?.map((event) => event.type)).toEqual(['task.queued']);
    await stack.clients.dynamo.send(
      new UpdateCommand({
        TableName: stack.tableName,
        Key: { pk: child!.task_id },
        UpdateExpression: 'SET outbox_since = :longAgo',
        ExpressionAttributeValues: { ':longAgo': new Date(Date.now() - 3600_000).toISOString() },
      }),
    );
    expect(await stack.invoke('janitor', {})).toMatchObject({ eventsSent: 1, errors: 0 });
    // A task retried while its failure is still in the outbox (its function died before sending it): the
    // retry sends it on (bus and webhook) rather than dropping it.
    const unsent = abandoned({
      status: 'FAILURE',
      input: { kind: 's3', bucket: stack.bucketName, key: 'inbox/batch-iam/a.txt' },
      callback: { url: `${receiver.url}/ok`, events: ['task.failed', 'task.succeeded'] },
      outbox: [{ id: randomUUID(), type: 'task.failed', occurred_at: new Date().toISOString() }],
    });
    await store.create(unsent);
    expect((await api.post(`/tasks/${unsent.task_id}/retry`)).status).toBe(202);
    // Sent and taken off (the run the retry queued may have events of its own in flight by now).
    const sentId = unsent.outbox![0]!.id;
    expect((await store.get(unsent.task_id))?.outbox?.map((event) => event.id) ?? []).not.toContain(sentId);
    expect((await (await api.get(`/batches/${mixed}`)).json()) as object).toMatchObject({
      status: 'RUNNING',
      counts: { PENDING: 1, SUCCESS: 1, FAILURE: 0 },
    });
    expect(stack.iam.denied).toEqual([]);
  });

  it('a submission whose message cannot be queued leaves nothing behind: no row, no object, a 500', async () => {
    const withoutQueues = await startTarget({
      ...OPTIONS,
      adjustPolicy: (name, policy) =>
        name === 'upload' || name === 'process' || name === 'createBatch'
          ? policy.filter((statement) => !statement.actions.includes('sqs:SendMessage'))
          : policy,
    });
    try {
      const client = apiClient(withoutQueues);
      const local = withoutQueues.local!;
      const form = new FormData();
      form.append('file', new Blob(['Never queued.']), 'unqueued.txt');
      const upload = await client.post('/upload', form, { 'idempotency-key': 'unqueued' });
      expect(upload.status).toBe(500);
      await local.clients.s3.send(
        new PutObjectCommand({ Bucket: local.bucketName, Key: 'inbox/unqueued.txt', Body: 'Never queued.' }),
      );
      const processed = await client.postJson('/process', { source: `s3://${local.bucketName}/inbox/unqueued.txt` });
      expect(processed.status).toBe(500);
      const batch = await client.postJson('/batches', { sources: [`s3://${local.bucketName}/inbox/unqueued.txt`] });
      expect(batch.status).toBe(500);
      expect(local.iam.denied.map(({ function: name, action }) => `${name} ${action}`)).toEqual([
        'upload sqs:SendMessage',
        'process sqs:SendMessage',
        'createBatch sqs:SendMessage',
      ]);
      // The batch's list is gone with it.
      const lists = await local.clients.s3.send(
        new ListObjectsV2Command({ Bucket: local.bucketName, Prefix: 'batches/' }),
      );
      expect(lists.Contents ?? []).toEqual([]);
      // Nothing listed, nothing stored under direct/.
      expect(((await (await client.get('/tasks')).json()) as { tasks: unknown[] }).tasks).toEqual([]);
      const direct = await local.clients.s3.send(
        new ListObjectsV2Command({ Bucket: local.bucketName, Prefix: 'direct/' }),
      );
      expect(direct.Contents ?? []).toEqual([]);
      for (const used of local.iam.used) usedWithoutQueues.add(used);
    } finally {
      await withoutQueues.stop();
    }
  });

  it('used every action and every resource of every statement it grants', () => {
    const used = [...stack.iam.used, ...usedWithoutQueues].map((line) => {
      const [fn = '', statement = '', action = '', resource = ''] = line.split(' ');
      return { fn, statement: Number(statement), action, resource };
    });
    const unused: string[] = [];
    for (const [name, fn] of Object.entries(stack.functions) as Array<
      [FunctionName, { policy: PolicyStatementSpec[] }]
    >) {
      for (const [index, statement] of fn.policy.entries()) {
        const uses = used.filter((use) => use.fn === name && use.statement === index);
        for (const action of statement.actions) {
          if (!uses.some((use) => use.action === action)) unused.push(`${name}: ${action} (statement ${index})`);
        }
        for (const resource of statement.resources) {
          if (!uses.some((use) => use.resource === resource)) unused.push(`${name}: ${resource} (statement ${index})`);
        }
      }
    }
    expect(unused).toEqual([]);
  });
});
