import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, isRemote, startTarget, type Api, type Target } from '../support/target.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

/**
 * Webhooks end to end on the embedded stack: tasks submitted with a
 * callback_url, the events they announce delivered to a loopback receiver
 * that verifies every signature, the delivery log and redelivery over HTTP.
 * The retry schedule runs at a fiftieth of its length (a first retry after
 * about a second).
 */
const SECRET = 'whsec_dGVzdC1zZWNyZXQtb2YtdGhlLXdlYmhvb2tzLXN1aXRl';

let target: Target;
let api: Api;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;

beforeAll(async () => {
  if (isRemote()) return;
  receiver = await startWebhookReceiver(SECRET);
  target = await startTarget({ webhookSecret: SECRET, timing: { webhookRetryScale: 0.02 } });
  api = apiClient(target);
});
afterAll(async () => {
  await receiver?.close();
  await target?.stop();
});

const submit = async (text: string, fields: Record<string, string>) => {
  const form = new FormData();
  form.append('file', new Blob([text]), 'memo.txt');
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  const response = await api.post('/upload', form);
  expect(response.status, await response.clone().text()).toBe(202);
  return ((await response.json()) as { task_id: string }).task_id;
};

const deliveriesOf = async (taskId: string) => {
  const response = await api.get(`/tasks/${taskId}/deliveries`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { deliveries: Array<Record<string, any>> }).deliveries;
};

describe.skipIf(isRemote())('webhooks', () => {
  let succeeded: string;

  it('delivers exactly one task.succeeded for a task that succeeds, signed, its result linked', async () => {
    succeeded = await submit('A memo announced by webhook.', { callback_url: `${receiver.url}/ok` });
    expect((await api.waitFor(succeeded)).status).toBe('SUCCESS');
    await receiver.until(() => receiver.forTask(succeeded).length === 1);
    const [webhook] = receiver.forTask(succeeded);
    expect(webhook).toMatchObject({ verified: true, body: { type: 'task.succeeded' } });
    expect(webhook!.body.data).toMatchObject({ task_id: succeeded, status: 'SUCCESS' });
    expect(webhook!.id).toMatch(/^msg_[0-9a-f-]{36}$/);
    const result = await fetch(webhook!.body.data.result.result_url as string);
    expect(((await result.json()) as { documents: Array<{ page_content: string }> }).documents[0]?.page_content).toBe(
      'A memo announced by webhook.',
    );

    const deliveries = await deliveriesOf(succeeded);
    expect(deliveries).toEqual([
      expect.objectContaining({ event_type: 'task.succeeded', webhook_id: webhook!.id, status: 'delivered' }),
    ]);
    expect(deliveries[0]!.attempts).toEqual([
      { at: expect.any(String), status_code: 204, duration_ms: expect.any(Number) },
    ]);
    // Nothing else was announced to it: the log is complete once delivered.
    expect(receiver.forTask(succeeded)).toHaveLength(1);
  });

  it('sends task.started too when asked, as its own delivery', async () => {
    const taskId = await submit('Started and succeeded.', {
      callback_url: `${receiver.url}/ok`,
      callback_events: 'task.started,task.succeeded',
    });
    await api.waitFor(taskId);
    await receiver.until(() => receiver.forTask(taskId).length === 2);
    // Each event is its own delivery, sent on its own: they are not promised in order.
    expect(
      receiver
        .forTask(taskId)
        .map((webhook) => [webhook.body.type, webhook.verified])
        .sort(),
    ).toEqual([
      ['task.started', true],
      ['task.succeeded', true],
    ]);
    expect((await deliveriesOf(taskId)).map((delivery) => delivery.status)).toEqual(['delivered', 'delivered']);
  });

  it('tries again, with the same webhook-id, when the receiver first answers 503', async () => {
    const taskId = await submit('Delivered on the second try.', { callback_url: `${receiver.url}/flaky` });
    await api.waitFor(taskId);
    await receiver.until(() => receiver.forTask(taskId).length === 2);
    const [first, second] = receiver.forTask(taskId);
    expect([first!.status, second!.status]).toEqual([503, 200]);
    expect(second!.id).toBe(first!.id);
    expect(second!.timestamp).toBeGreaterThanOrEqual(first!.timestamp);
    expect([first!.verified, second!.verified]).toEqual([true, true]);
    const [delivery] = await deliveriesOf(taskId);
    expect(delivery).toMatchObject({ status: 'delivered', webhook_id: first!.id });
    expect(delivery!.attempts.map((attempt: { status_code: number }) => attempt.status_code)).toEqual([503, 200]);
  });

  it('redelivers exactly once more, with the same webhook-id, and logs the attempt', async () => {
    const [delivery] = await deliveriesOf(succeeded);
    const response = await api.post(`/tasks/${succeeded}/deliveries/${delivery!.delivery_id}/redeliver`);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ delivery_id: delivery!.delivery_id, status: 'delivered' });
    // The attempt is logged after its POST: once the log has it, the receiver has had every POST there was.
    const logged = async () => (await deliveriesOf(succeeded))[0]!.attempts as Array<{ status_code: number }>;
    for (let attempts = await logged(); attempts.length < 2; attempts = await logged()) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await logged()).map((attempt) => attempt.status_code)).toEqual([204, 204]);
    expect(receiver.forTask(succeeded).map((webhook) => [webhook.id, webhook.verified])).toEqual([
      [delivery!.webhook_id, true],
      [delivery!.webhook_id, true],
    ]);
  });

  it('answers 404 for a delivery the task does not have', async () => {
    const response = await api.post(`/tasks/${succeeded}/deliveries/${crypto.randomUUID()}/redeliver`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('DELIVERY_NOT_FOUND');
  });
});

describe.skipIf(isRemote())('webhooks without the grant to read the secret', () => {
  it('are refused as AWS would refuse them: AccessDenied, and nothing is sent', async () => {
    const withoutSecret = await startTarget({
      webhookSecret: SECRET,
      adjustPolicy: (name, policy) =>
        name === 'webhookDeliveries'
          ? policy.filter((statement) => !statement.actions.includes('secretsmanager:GetSecretValue'))
          : policy,
    });
    try {
      const form = new FormData();
      form.append('file', new Blob(['Never announced.']), 'memo.txt');
      form.append('callback_url', `${receiver.url}/ok`);
      const response = await apiClient(withoutSecret).post('/upload', form);
      const { task_id: taskId } = (await response.json()) as { task_id: string };
      const local = withoutSecret.local!;
      for (const deadline = Date.now() + 30_000; !local.iam.denied.length;) {
        if (Date.now() > deadline) throw new Error('the secret was never asked for');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(local.iam.denied.map(({ function: name, action }) => `${name} ${action}`)).toEqual([
        'webhookDeliveries secretsmanager:GetSecretValue',
      ]);
      expect(receiver.forTask(taskId)).toEqual([]);
    } finally {
      await withoutSecret.stop();
    }
  });
});
