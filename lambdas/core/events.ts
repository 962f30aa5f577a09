import * as z from 'zod';
import { AppError } from '../errors.js';
import type { EventSink, TaskMetrics, TaskStore } from './ports.js';
import {
  WEBHOOK_EVENT_TYPES,
  type Task,
  type TaskCallback,
  type TaskEvent,
  type TaskStatus,
  type WebhookEventType,
} from './task.js';
import { taskSummary } from './task-views.js';
import { checkUrl } from './url-policy.js';

export { WEBHOOK_EVENT_TYPES, type TaskCallback, type TaskEvent, type WebhookEventType } from './task.js';
export { webhookDeliveryMessageSchema, type WebhookDeliveryMessage } from './delivery.js';

/*
 * What the service announces about a task: a status change that a client
 * could otherwise only learn by polling. Each is put on the event bus, and
 * sent to the task's `callback_url` when it subscribed to that event type.
 */

/** Without `callback_events`: the final ones. */
export const DEFAULT_CALLBACK_EVENTS: readonly WebhookEventType[] = ['task.succeeded', 'task.failed', 'task.revoked'];

/** The statuses announced, and the event each change to them makes. */
export const EVENT_OF_STATUS: Partial<Record<TaskStatus, WebhookEventType>> = {
  STARTED: 'task.started',
  SUCCESS: 'task.succeeded',
  FAILURE: 'task.failed',
  REVOKED: 'task.revoked',
};

const STATUS_OF: Record<WebhookEventType, TaskStatus> = {
  'task.started': 'STARTED',
  'task.succeeded': 'SUCCESS',
  'task.failed': 'FAILURE',
  'task.revoked': 'REVOKED',
};

/** Each event's EventBridge `detail-type`. */
export const DETAIL_TYPES: Record<WebhookEventType, string> = {
  'task.started': 'Task Started',
  'task.succeeded': 'Task Succeeded',
  'task.failed': 'Task Failed',
  'task.revoked': 'Task Revoked',
};

/** The EventBridge `source` of every event. */
export const EVENT_SOURCE = 'docproc';

const MAX_CALLBACK_URL_LENGTH = 2048;

/** A list from JSON (`["task.failed"]`) or a form field (`task.failed,task.succeeded`). */
const eventList = z
  .union([z.array(z.string()), z.string().transform((text) => text.split(','))])
  .transform((names) => [...new Set(names.map((name) => name.trim().toLowerCase()).filter(Boolean))])
  .pipe(
    z
      .array(z.enum(WEBHOOK_EVENT_TYPES, { message: `expected event types among: ${WEBHOOK_EVENT_TYPES.join(', ')}` }))
      .min(1, `name at least one of: ${WEBHOOK_EVENT_TYPES.join(', ')}`),
  );

/** The submission fields for webhooks, beside the processing options. */
export const callbackShape = {
  callback_url: z
    .string()
    .trim()
    .min(1, 'required')
    .max(MAX_CALLBACK_URL_LENGTH, `at most ${MAX_CALLBACK_URL_LENGTH} characters`)
    .optional(),
  callback_events: eventList.optional(),
};

export const CALLBACK_FIELD_NAMES = ['callback_url', 'callback_events'] as const;

export type RawCallback = { callback_url?: string | undefined; callback_events?: WebhookEventType[] | undefined };

/**
 * The callback a submission asked for, checked against the address policy
 * of URL sources (checked again, resolved, at every delivery: DNS can
 * change). `callback_events` without a URL is a mistake worth a 400.
 */
export const callbackOf = (raw: RawCallback, allowPrivateAddresses: boolean): TaskCallback | undefined => {
  if (raw.callback_url === undefined) {
    if (raw.callback_events !== undefined) {
      throw new AppError('VALIDATION_ERROR', 'callback_events: needs a callback_url to send the events to.', {
        details: [{ field: 'callback_events', message: 'needs callback_url' }],
      });
    }
    return undefined;
  }
  let url: URL;
  try {
    url = checkUrl(raw.callback_url, { allowPrivateAddresses });
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    throw new AppError(error.code, `callback_url: ${error.message}`, {
      status: 400,
      details: [{ field: 'callback_url', message: error.message }],
    });
  }
  return { url: url.href, events: raw.callback_events ?? [...DEFAULT_CALLBACK_EVENTS] };
};

/** An event of the outbox that goes to the bus and webhooks (the others are only counted by a batch). */
export type AnnouncedEvent = TaskEvent & { type: WebhookEventType };

export const isAnnounced = (event: TaskEvent): event is AnnouncedEvent =>
  (WEBHOOK_EVENT_TYPES as readonly string[]).includes(event.type);

/** The task view an event carries: the task as its change left it (a late send still describes that change). */
export const eventDetail = (task: Task, event: AnnouncedEvent) => ({
  ...taskSummary(task),
  status: STATUS_OF[event.type],
  event_id: event.id,
});

export interface AnnounceDeps {
  store: Pick<TaskStore, 'acknowledgeEvents'>;
  events: EventSink;
  metrics: Pick<TaskMetrics, 'eventUnsent'>;
}

/**
 * Sends a task's outbox in order, leaving out `skip` (events already sent);
 * stops at the first that cannot be sent (counted). Returns the ids sent.
 */
const sendOutbox = async (deps: AnnounceDeps, task: Task, skip: ReadonlySet<string>): Promise<string[]> => {
  const sent: string[] = [];
  for (const event of task.outbox ?? []) {
    if (skip.has(event.id)) continue;
    try {
      await deps.events.send(task, event);
      sent.push(event.id);
    } catch (error) {
      deps.metrics.eventUnsent(event, error);
      break;
    }
  }
  return sent;
};

/**
 * Sends a task's unsent events in order, then takes those sent off the
 * outbox in one write. A failed send stops there, leaving it and the later
 * ones for the janitor's sweep: the status change that made them stands
 * either way, and its caller (the cancel route, the janitor) is never failed
 * by an announcement. At least once: a function that dies between a send and
 * the acknowledgement sends those events again, with the same ids. Returns
 * how many were sent.
 */
export const announce = async (deps: AnnounceDeps, task: Task | undefined): Promise<number> => {
  if (!task) return 0;
  const sent = await sendOutbox(deps, task, new Set());
  if (sent.length) await acknowledge(deps, task, sent);
  return sent.length;
};

const acknowledge = async (deps: AnnounceDeps, task: Task, ids: string[]): Promise<void> => {
  try {
    await deps.store.acknowledgeEvents(task.task_id, ids);
  } catch (error) {
    // Sent but still listed: the sweep sends them again (the receivers de-duplicate on the id).
    const event = task.outbox?.find((candidate) => candidate.id === ids[0]);
    if (event) deps.metrics.eventUnsent(event, error);
  }
};

/** How many sent event ids an environment remembers (a few seconds of a busy worker's). */
const SENT_MEMORY = 10_000;

/**
 * Announcements that run beside a function's work instead of before it goes
 * on (the worker: a task's STARTED is announced while its document is read).
 * A task's announcements run one after another, so that none sends an event
 * an earlier one sent; one that has a successor queued leaves its
 * acknowledgement to it, so a short task's STARTED and SUCCESS leave the
 * outbox in one write. `settled` is awaited before the function returns (a
 * frozen environment would hold them until its next invocation, or the sweep
 * would send them).
 */
export class Announcements {
  private readonly chains = new Map<string, { done: Promise<void>; last: { successor: boolean } }>();
  private readonly pending = new Set<Promise<void>>();
  /**
   * Events this environment sent: a later row may still list one (written
   * before its acknowledgement landed), and it must not go out twice.
   */
  private readonly sent = new Set<string>();

  start(deps: AnnounceDeps, task: Task): void {
    const previous = this.chains.get(task.task_id);
    if (previous) previous.last.successor = true;
    const position = { successor: false };
    const done = (previous?.done ?? Promise.resolve()).then(() => this.run(deps, task, position));
    this.chains.set(task.task_id, { done, last: position });
    this.pending.add(done);
    void done.finally(() => {
      this.pending.delete(done);
      if (this.chains.get(task.task_id)?.done === done) this.chains.delete(task.task_id);
    });
  }

  private async run(deps: AnnounceDeps, task: Task, position: { successor: boolean }): Promise<void> {
    for (const id of await sendOutbox(deps, task, this.sent)) this.remember(id);
    // What this row lists and this environment has sent: the front of the outbox, to take off.
    const sent = (task.outbox ?? []).map((event) => event.id).filter((id) => this.sent.has(id));
    // A successor's row lists these too (they are still in the outbox), and takes them off with its own.
    if (position.successor && sent.length === (task.outbox?.length ?? 0)) return;
    if (sent.length) await acknowledge(deps, task, sent);
  }

  private remember(id: string): void {
    if (this.sent.size >= SENT_MEMORY) this.sent.delete(this.sent.values().next().value as string);
    this.sent.add(id);
  }

  async settled(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }
}
