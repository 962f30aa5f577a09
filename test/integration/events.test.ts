import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import type { BusEvent } from '../../local/event-bus.js';
import { apiClient, isRemote, startTarget, type Api, type Target } from '../support/target.js';

let target: Target;
let api: Api;

beforeAll(async () => {
  target = await startTarget();
  api = apiClient(target);
});
afterAll(async () => target?.stop());

const submittedId = async (response: Response): Promise<string> => {
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return ((await response.json()) as { task_id: string }).task_id;
};

interface TaskDetail {
  task_id: string;
  status: string;
  event_id: string;
  error?: { code: string };
}

const eventsOf = (taskIds: string[]): BusEvent[] =>
  target.local!.busEvents().filter((event) => taskIds.includes((event.detail as TaskDetail).task_id));

/** The bus receives events just after the status write; the next read of the task may come first. */
const settled = async (taskIds: string[], count: number): Promise<BusEvent[]> => {
  for (let tries = 0; tries < 50 && eventsOf(taskIds).length < count; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return eventsOf(taskIds);
};

describe.skipIf(isRemote())('task events on the event bus', () => {
  it('puts exactly one Started and one Succeeded event per task, each id unique, the view as the change left it', async () => {
    const ids = await Promise.all(
      Array.from({ length: 12 }, async (_, index) =>
        submittedId(await api.upload('text/fake-text.txt', { split: String(index % 2 === 0) })),
      ),
    );
    for (const id of ids) expect((await api.waitFor(id)).status).toBe('SUCCESS');
    const events = await settled(ids, ids.length * 2);
    expect(events).toHaveLength(ids.length * 2);
    expect(new Set(events.map((event) => (event.detail as TaskDetail).event_id)).size).toBe(ids.length * 2);
    for (const id of ids) {
      const own = events.filter((event) => (event.detail as TaskDetail).task_id === id);
      expect(own.map((event) => [event['detail-type'], (event.detail as TaskDetail).status])).toEqual([
        ['Task Started', 'STARTED'],
        ['Task Succeeded', 'SUCCESS'],
      ]);
      for (const event of own) expect(event).toMatchObject({ source: 'docproc', bus: 'docproc-tasks' });
    }
    // Taken off every outbox once sent.
    const store = new DynamoTaskStore(target.local!.clients.dynamo, target.local!.tableName);
    for (const id of ids) expect((await store.get(id))?.outbox).toBeUndefined();
  });

  it('announces a failure with its error, and a cancel as Task Revoked', async () => {
    const failed = await submittedId(await api.upload('pdf/password.pdf'));
    const waiting = await submittedId(
      await api.postJson('/upload-url', { filename: 'later.pdf', content_type: 'application/pdf', size_bytes: 100 }),
    );
    expect((await api.post(`/tasks/${waiting}/cancel`)).status).toBe(200);
    expect((await api.waitFor(failed)).status).toBe('FAILURE');
    const events = await settled([failed, waiting], 3);
    expect(
      events.map((event) => [
        (event.detail as TaskDetail).task_id,
        event['detail-type'],
        (event.detail as TaskDetail).error?.code,
      ]),
    ).toEqual(
      expect.arrayContaining([
        [failed, 'Task Failed', 'PDF_PASSWORD_PROTECTED'],
        [waiting, 'Task Revoked', undefined],
      ]),
    );
    // AWAITING_UPLOAD → REVOKED never started: no Started event for it.
    expect(events.filter((event) => (event.detail as TaskDetail).task_id === waiting)).toHaveLength(1);
  });

  it('lists the bus events at GET /_local/events, newest first', async () => {
    const response = await fetch(`${target.local!.url}/_local/events`);
    const listed = (await response.json()) as BusEvent[];
    expect(listed.length).toBeGreaterThan(0);
    expect(String(listed[0]?.time) >= String(listed.at(-1)?.time)).toBe(true);
  });
});
