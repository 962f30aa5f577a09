import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import * as z from 'zod';
import { beforeEach, describe, expect, it } from 'vitest';
import { AwsEventSink } from '../../lambdas/adapters/event-sink.js';
import {
  Announcements,
  announce,
  callbackOf,
  callbackShape,
  eventDetail,
  webhookDeliveryMessageSchema,
  type AnnouncedEvent,
} from '../../lambdas/core/events.js';
import type { Task, TaskEvent } from '../../lambdas/core/task.js';
import { recordingEvents } from '../support/events.js';
import { aTask } from '../support/fixtures.js';

const event = (type: AnnouncedEvent['type'], id: string): AnnouncedEvent => ({
  id,
  type,
  occurred_at: '2026-11-28T10:00:00.000Z',
});
const ID_1 = '11111111-1111-4111-8111-111111111111';
const ID_2 = '22222222-2222-4222-8222-222222222222';

const withOutbox = (overrides: Partial<Task> = {}): Task =>
  aTask({
    status: 'SUCCESS',
    outbox: [event('task.started', ID_1), event('task.succeeded', ID_2)],
    ...overrides,
  });

/** Records each acknowledgement: one write, the ids it takes off. */
const fakeStore = () => {
  const acknowledged: string[][] = [];
  return {
    acknowledged,
    store: { acknowledgeEvents: async (_task: string, ids: readonly string[]) => void acknowledged.push([...ids]) },
  };
};

const metricsSpy = () => {
  const unsent: string[] = [];
  return { unsent, metrics: { eventUnsent: (sent: TaskEvent) => void unsent.push(sent.id) } };
};

describe('announce', () => {
  it('sends the outbox in order, then takes what it sent off in one write', async () => {
    const events = recordingEvents();
    const { store, acknowledged } = fakeStore();
    const sent = await announce({ store, events: events.sink, metrics: metricsSpy().metrics }, withOutbox());
    expect(sent).toBe(2);
    expect(events.sent.map(({ event: { id } }) => id)).toEqual([ID_1, ID_2]);
    expect(acknowledged).toEqual([[ID_1, ID_2]]);
  });

  it('stops at a failed send, acknowledges nothing it did not send, and counts it', async () => {
    const { store, acknowledged } = fakeStore();
    const { metrics, unsent } = metricsSpy();
    const sent = await announce({ store, events: recordingEvents({ failing: true }).sink, metrics }, withOutbox());
    expect(sent).toBe(0);
    expect(acknowledged).toEqual([]);
    expect(unsent).toEqual([ID_1]);
  });

  it('has nothing to do for a change that did not happen', async () => {
    const events = recordingEvents();
    expect(await announce({ ...fakeStore(), events: events.sink, metrics: metricsSpy().metrics }, undefined)).toBe(0);
    expect(events.sent).toEqual([]);
  });
});

describe('Announcements (beside the work)', () => {
  it("runs a task's announcements in order and never sends an event twice, then settles", async () => {
    const order: string[] = [];
    const slow = {
      send: async (_task: Task, sent: TaskEvent) => {
        await new Promise((resolve) => setTimeout(resolve, sent.type === 'task.started' ? 30 : 0));
        order.push(sent.type);
      },
    };
    const { store, acknowledged } = fakeStore();
    const deps = { store, events: slow, metrics: metricsSpy().metrics };
    const announcements = new Announcements();
    // The STARTED row, then (before its announcement is done) the SUCCESS row that still lists STARTED.
    announcements.start(deps, withOutbox({ status: 'STARTED', outbox: [event('task.started', ID_1)] }));
    announcements.start(deps, withOutbox());
    await announcements.settled();
    expect(order).toEqual(['task.started', 'task.succeeded']);
    // STARTED left its acknowledgement to the announcement queued behind it: both leave in one write.
    expect(acknowledged).toEqual([[ID_1, ID_2]]);
  });

  it('acknowledges at once when nothing is queued behind (a long run: STARTED leaves the outbox at once)', async () => {
    const { store, acknowledged } = fakeStore();
    const announcements = new Announcements();
    const deps = { store, events: recordingEvents().sink, metrics: metricsSpy().metrics };
    announcements.start(deps, withOutbox({ status: 'STARTED', outbox: [event('task.started', ID_1)] }));
    await announcements.settled();
    expect(acknowledged).toEqual([[ID_1]]);
    // Its row, written after STARTED left the outbox, lists only its own event.
    announcements.start(deps, withOutbox({ outbox: [event('task.succeeded', ID_2)] }));
    await announcements.settled();
    expect(acknowledged).toEqual([[ID_1], [ID_2]]);
  });
});

describe('Announcements, when a row still lists an event already sent', () => {
  it('does not send it again (its row was written before the acknowledgement landed)', async () => {
    const events = recordingEvents();
    const deps = { ...fakeStore(), events: events.sink, metrics: metricsSpy().metrics };
    const announcements = new Announcements();
    announcements.start(deps, withOutbox({ status: 'STARTED', outbox: [event('task.started', ID_1)] }));
    await announcements.settled();
    announcements.start(deps, withOutbox());
    await announcements.settled();
    expect(events.sent.map(({ event: sent }) => sent.id)).toEqual([ID_1, ID_2]);
  });
});

describe('eventDetail', () => {
  it('is the task view as the event left it, with the event id', () => {
    // Sent late: the task has moved on to SUCCESS, the event still says STARTED.
    const detail = eventDetail(withOutbox(), event('task.started', ID_1));
    expect(detail).toMatchObject({ status: 'STARTED', event_id: ID_1 });
    expect(detail).not.toHaveProperty('outbox');
    expect(detail).not.toHaveProperty('owner');
    expect(detail).not.toHaveProperty('callback');
  });
});

describe('callback_url and callback_events', () => {
  const parse = (input: Record<string, unknown>, allowPrivate = false) =>
    callbackOf(z.object(callbackShape).parse(input), allowPrivate);

  it('defaults to the final events, and takes a list from JSON or a form', () => {
    expect(parse({ callback_url: 'https://hooks.example.com/docproc' })).toEqual({
      url: 'https://hooks.example.com/docproc',
      events: ['task.succeeded', 'task.failed', 'task.revoked'],
    });
    expect(parse({ callback_url: 'https://a.example', callback_events: 'task.started, task.failed' })?.events).toEqual([
      'task.started',
      'task.failed',
    ]);
    expect(parse({ callback_url: 'https://a.example', callback_events: ['task.failed'] })?.events).toEqual([
      'task.failed',
    ]);
    expect(parse({})).toBeUndefined();
  });

  it('refuses what the URL policy refuses, at submission, naming the field', () => {
    for (const url of [
      'http://127.0.0.1:9/hook',
      'http://169.254.169.254/latest',
      'file:///etc/passwd',
      'http://10.0.0.1/',
    ]) {
      expect(() => parse({ callback_url: url }), url).toThrow(
        expect.objectContaining({ code: 'SOURCE_URL_FORBIDDEN' }),
      );
    }
    expect(() => parse({ callback_url: 'http://127.0.0.1:9/hook' }, true)).not.toThrow();
    expect(() => parse({ callback_url: 'http://169.254.169.254/latest' }, true)).toThrow(/callback_url/);
  });

  it('refuses unknown event types, an empty list, and events without a URL', () => {
    expect(() => parse({ callback_url: 'https://a.example', callback_events: 'task.done' })).toThrow(
      /task.started, task.succeeded, task.failed, task.revoked/,
    );
    expect(() => parse({ callback_url: 'https://a.example', callback_events: ' , ' })).toThrow(/at least one/);
    expect(() => parse({ callback_events: 'task.failed' })).toThrow(/needs a callback_url/);
  });
});

describe('AwsEventSink', () => {
  const bridge = mockClient(EventBridgeClient);
  const sqs = mockClient(SQSClient);
  const sink = (webhookQueueUrl = 'https://sqs.local/webhooks') =>
    new AwsEventSink(
      { events: new EventBridgeClient({ region: 'us-east-1' }), sqs: new SQSClient({ region: 'us-east-1' }) },
      { busName: 'docproc-tasks', webhookQueueUrl },
      { count: () => Promise.reject(new Error('no batch in these tests')) },
    );
  beforeEach(() => {
    bridge.reset();
    sqs.reset();
    bridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
  });

  it('puts one event on the bus: source docproc, the detail-type, the task view', async () => {
    await sink().send(withOutbox(), event('task.succeeded', ID_2));
    const [entry] = bridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries ?? [];
    expect(entry).toMatchObject({ EventBusName: 'docproc-tasks', Source: 'docproc', DetailType: 'Task Succeeded' });
    expect(JSON.parse(entry?.Detail ?? '{}')).toMatchObject({ status: 'SUCCESS', event_id: ID_2 });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('throws when PutEvents refuses the entry (a 200 with FailedEntryCount)', async () => {
    bridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] });
    await expect(sink().send(withOutbox(), event('task.succeeded', ID_2))).rejects.toThrow(/InternalFailure/);
  });

  it('queues a webhook delivery only for the events the callback subscribed to', async () => {
    const task = withOutbox({ callback: { url: 'https://hooks.example.com', events: ['task.succeeded'] } });
    await sink().send(task, event('task.started', ID_1));
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    await sink().send(task, event('task.succeeded', ID_2));
    const [call] = sqs.commandCalls(SendMessageCommand);
    expect(call?.args[0].input.QueueUrl).toBe('https://sqs.local/webhooks');
    const message = webhookDeliveryMessageSchema.parse(JSON.parse(call?.args[0].input.MessageBody ?? '{}'));
    expect(message).toMatchObject({ v: 1, task_id: task.task_id, event: { id: ID_2, type: 'task.succeeded' } });
    expect(message.task).toMatchObject({ status: 'SUCCESS' });
  });
});
