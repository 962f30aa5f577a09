import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, isRemote, startTarget, type Api, type Target } from '../support/target.js';

let target: Target;
let api: Api;

beforeAll(async () => {
  if (isRemote()) return;
  target = await startTarget({
    config: { maxReceiveCount: 2 },
    // Seconds instead of minutes: a 3 s worker timeout, leases that end soon after, and a 6 s visibility timeout:
    // a redelivery must find the lease of a run that claimed late (a cold start on a loaded machine) ended, or
    // it is held back, and with two deliveries allowed that is the DLQ (on AWS the visibility timeout is six
    // times the function timeout, the lease its timeout and 30 s).
    timing: { workerTimeoutMs: 3_000, softTimeLimitMarginMs: 300, visibilityTimeoutSeconds: 6, leaseMarginMs: 100 },
    faults: {
      crashFilenames: ['poison.txt'],
      crashOnceFilenames: ['dies-once.txt'],
      failFirstReads: 1,
    },
  });
  api = apiClient(target);
});
afterAll(async () => target?.stop());

const upload = async (name: string, text = 'Some words to process.') => {
  const form = new FormData();
  form.append('file', new Blob([text]), name);
  const response = await api.post('/upload', form);
  expect(response.status).toBe(202);
  return ((await response.json()) as { task_id: string }).task_id;
};

describe.skipIf(isRemote())('faults on the embedded stack', () => {
  // First in the file: the stack fails the first input read it sees.
  it('an S3 read that fails once is retried and the task finishes', async () => {
    const id = await upload('flaky.txt');
    const done = await api.waitFor(id, undefined, 30_000);
    expect(target.local!.faults.filter((fault) => fault.startsWith('fail-read'))).toHaveLength(1);
    expect(done.status, JSON.stringify(done.error)).toBe('SUCCESS');
  });

  it('a worker that always crashes on one input: DLQ, then FAILURE, while other tasks keep flowing', async () => {
    const poison = await upload('poison.txt');
    const healthy = await Promise.all([1, 2, 3].map((index) => upload(`healthy-${index}.txt`)));
    for (const id of healthy) expect(await api.waitFor(id, undefined, 20_000)).toMatchObject({ status: 'SUCCESS' });
    const failed = await api.waitFor(poison, undefined, 30_000);
    expect(failed).toMatchObject({ status: 'FAILURE', error: { code: 'WORKER_CRASHED', retryable: true } });
    // What CloudWatch would show: the DLQ alarm fires, and the failure is counted by code (from the EMF output).
    const alarms = await target.local!.alarms();
    expect(alarms.find((alarm) => alarm.id === 'StandardDeadLettered')?.state).toBe('ALARM');
    expect(alarms.find((alarm) => alarm.id === 'LargeDeadLettered')?.state).toBe('OK');
    const crashed = {
      namespace: 'DocProc',
      name: 'TasksFailed',
      dimensions: { service: 'docproc', ErrorCode: 'WORKER_CRASHED' },
    };
    // The function publishes its EMF as its invocation ends, just after the status change the poll saw (and
    // its announcement): read until it is in, as CloudWatch too shows a metric a moment after the log line.
    const countedNow = () => {
      const minute = Math.floor(Date.now() / 60_000) * 60_000;
      const counted = target.local!.metrics.series(crashed, 'Sum', 60_000, [minute - 60_000, minute]);
      return [...counted.values()].reduce((sum, value) => sum + value, 0);
    };
    for (let tries = 0; tries < 50 && countedNow() < 1; tries++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(countedNow()).toBeGreaterThanOrEqual(1);
  });

  it('a worker that dies after STARTED: the message comes back and the task still succeeds', async () => {
    const id = await upload('dies-once.txt');
    const done = await api.waitFor(id, undefined, 30_000);
    expect(target.local!.faults).toContain('crash-once dies-once.txt');
    expect(done).toMatchObject({ status: 'SUCCESS', attempts: 1 });
    expect(done.result.document_count).toBe(1);
  });

  it('the same message delivered twice at once gives one result and one SUCCESS', async () => {
    const id = await upload('twice.txt', 'One paragraph only.');
    const { sqs, s3 } = target.local!.clients;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: target.local!.queues.standard.url,
        MessageBody: JSON.stringify({ v: 1, task_id: id, attempt: 1 }),
      }),
    );
    const done = await api.waitFor(id, undefined, 30_000);
    expect(done.result.documents).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 5_000)); // let the duplicate come back and be dropped
    const results = await s3.send(
      new ListObjectsV2Command({ Bucket: target.local!.bucketName, Prefix: `results/${id}/` }),
    );
    expect(results.Contents ?? []).toHaveLength(1);
    expect(((await (await api.get(`/tasks/${id}`)).json()) as any).status).toBe('SUCCESS');
  });
});
