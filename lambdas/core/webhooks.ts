import { WEBHOOK_DELIVERY } from '../../shared/definitions.js';
import { deliveryView, webhookIdOf, type Delivery, type DeliveryAttempt, type DeliveryJob } from './delivery.js';
import { AppError } from '../errors.js';
import type {
  BlobStore,
  Clock,
  DeliveryMetrics,
  DeliveryQueue,
  DeliveryStore,
  PostWebhook,
  SigningKeys,
  TaskStore,
} from './ports.js';
import { findTask, linkedResult } from './task-queries.js';
import type { Task } from './task.js';
import { signatureHeader } from './webhook-signing.js';

/**
 * Webhook delivery: each announced event is POSTed to its task's
 * callback_url, signed (webhook-signing.ts), and tried again on the
 * schedule of WEBHOOK_DELIVERY until a 2xx or until 24 h after the event.
 * Every attempt is logged. Nothing here changes the task.
 */
export interface RetryPolicy {
  /** Every delay and the give-up time multiplied by this: 1 on AWS, less in local tests. */
  scale: number;
  /** A number in [0, 1): how much of the jitter a delay gets. */
  random: () => number;
}

export interface DeliveryDeps {
  store: TaskStore;
  deliveries: DeliveryStore;
  queue: DeliveryQueue;
  blobs: BlobStore;
  clock: Clock;
  post: PostWebhook;
  signingKeys: SigningKeys;
  metrics: DeliveryMetrics;
  retry: RetryPolicy;
  resultUrlTtlSeconds: number;
}

export const WEBHOOK_USER_AGENT = 'docproc-webhooks/1.0';

/**
 * When to try again once `attemptsMade` attempts of the schedule have
 * failed, or undefined when that would be past the give-up time: the
 * delivery has failed.
 */
export const nextAttemptAt = (
  occurredAt: Date,
  now: Date,
  attemptsMade: number,
  policy: RetryPolicy,
): Date | undefined => {
  const { retryDelaysSeconds, thenEverySeconds, jitterRatio, giveUpAfterSeconds } = WEBHOOK_DELIVERY;
  const baseSeconds = retryDelaysSeconds[attemptsMade - 1] ?? thenEverySeconds;
  const at = now.getTime() + baseSeconds * 1000 * policy.scale * (1 + jitterRatio * policy.random());
  const deadline = occurredAt.getTime() + giveUpAfterSeconds * 1000 * policy.scale;
  return at <= deadline ? new Date(at) : undefined;
};

/** The SQS delay that brings a message back at `notBefore`, or as close as SQS's longest delay allows. */
export const queueDelaySeconds = (notBefore: Date, now: Date): number =>
  Math.min(WEBHOOK_DELIVERY.maxQueueDelaySeconds, Math.max(0, Math.ceil((notBefore.getTime() - now.getTime()) / 1000)));

export type DeliveryOutcome =
  | 'postponed'
  | 'task gone'
  | 'no callback'
  | 'duplicate'
  | 'superseded'
  | 'delivered'
  | 'retrying'
  | 'failed'
  | 'redelivered'
  | 'redelivery failed';

const newDelivery = (job: DeliveryJob, task: Task, now: Date): Delivery => ({
  task_id: job.task_id,
  delivery_id: job.event.id,
  event_type: job.event.type,
  webhook_id: webhookIdOf(job.event.id),
  status: 'pending',
  attempts: [],
  scheduled_attempts: 0,
  created_at: now.toISOString(),
  updated_at: now.toISOString(),
  event: job.event,
  task: job.task,
  expires_at: task.expires_at,
});

const jobOf = (delivery: Delivery, extra: Pick<DeliveryJob, 'attempt'> & Partial<DeliveryJob>): DeliveryJob => ({
  v: 1,
  task_id: delivery.task_id,
  event: delivery.event,
  task: delivery.task,
  ...extra,
});

const isSuccess = (attempt: DeliveryAttempt) =>
  attempt.status_code !== undefined && attempt.status_code >= 200 && attempt.status_code < 300;

/**
 * The task view as announced; for a success, with its result linked
 * (presigned afresh at every attempt), as GET tasks/{id} links a large
 * result, when the task still holds the result of the attempt announced.
 */
const eventData = async (deps: DeliveryDeps, delivery: Delivery, task: Task) => {
  const pointer = task.result;
  if (delivery.event_type !== 'task.succeeded' || !pointer || task.attempts !== delivery.task.attempts) {
    return delivery.task;
  }
  return { ...delivery.task, result: await linkedResult(deps, pointer, deps.resultUrlTtlSeconds) };
};

/** One signed POST of the delivery's event to `url` (the task's callback_url as it is now). */
const attemptDelivery = async (
  deps: DeliveryDeps,
  delivery: Delivery,
  task: Task,
  url: string,
): Promise<DeliveryAttempt> => {
  const body = JSON.stringify({
    type: delivery.event_type,
    timestamp: delivery.event.occurred_at,
    data: await eventData(deps, delivery, task),
  });
  const at = deps.clock.now();
  const timestamp = Math.floor(at.getTime() / 1000);
  const headers = {
    'content-type': 'application/json',
    'user-agent': WEBHOOK_USER_AGENT,
    'webhook-id': delivery.webhook_id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(await deps.signingKeys(), delivery.webhook_id, timestamp, body),
  };
  return { at: at.toISOString(), ...(await deps.post(url, { headers, body })) };
};

/** Attempt `position` of the schedule, then what it leads to: delivered, another attempt, or failed. */
const scheduledAttempt = async (
  deps: DeliveryDeps,
  delivery: Delivery,
  task: Task,
  url: string,
  position: number,
): Promise<DeliveryOutcome> => {
  const attempt = await attemptDelivery(deps, delivery, task, url);
  if (isSuccess(attempt)) {
    const recorded = await deps.deliveries.recordScheduled(delivery, position, attempt, { status: 'delivered' });
    if (recorded) deps.metrics.delivered();
    return recorded ? 'delivered' : 'superseded';
  }
  const next = nextAttemptAt(new Date(delivery.event.occurred_at), deps.clock.now(), position + 1, deps.retry);
  if (!next) {
    const recorded = await deps.deliveries.recordScheduled(delivery, position, attempt, { status: 'failed' });
    if (recorded) deps.metrics.failed();
    return recorded ? 'failed' : 'superseded';
  }
  // Queued before it is recorded: a function that dies in between may leave an attempt out of the log,
  // never a pending delivery with no attempt to come (a duplicate next attempt is superseded).
  await deps.queue.send(
    jobOf(delivery, { attempt: position + 1, not_before: next.toISOString() }),
    queueDelaySeconds(next, deps.clock.now()),
  );
  const nextAttempt = { status: 'pending' as const, nextAttemptAt: next.toISOString() };
  return (await deps.deliveries.recordScheduled(delivery, position, attempt, nextAttempt)) ? 'retrying' : 'superseded';
};

/** One more attempt the owner asked for: logged, and `delivered` if it succeeds, whatever the schedule does. */
const redelivery = async (deps: DeliveryDeps, delivery: Delivery, task: Task, url: string) => {
  const attempt = await attemptDelivery(deps, delivery, task, url);
  const delivered = isSuccess(attempt);
  await deps.deliveries.recordRedelivery(delivery, attempt, delivered);
  return delivered ? 'redelivered' : 'redelivery failed';
};

/**
 * Handles one message of the webhook-deliveries queue. A message that is
 * not yet due goes back on the queue; an event of a task that is gone, or
 * that asked for no callback, is dropped; a scheduled attempt that another
 * message already made (a duplicate announcement or SQS redelivery) is
 * dropped too. Throws only when the log, the queue, the task table or the
 * secret cannot be used (never for a receiver's failure): the message then
 * comes back.
 */
export const deliverEvent = async (deps: DeliveryDeps, job: DeliveryJob): Promise<DeliveryOutcome> => {
  const now = deps.clock.now();
  if (job.not_before && Date.parse(job.not_before) > now.getTime()) {
    await deps.queue.send(job, queueDelaySeconds(new Date(job.not_before), now));
    return 'postponed';
  }
  const task = await deps.store.get(job.task_id);
  if (!task || Date.parse(task.expires_at) <= now.getTime()) return 'task gone';
  if (!task.callback) return 'no callback';
  const delivery = await deps.deliveries.open(newDelivery(job, task, now));
  if (job.redelivery) return redelivery(deps, delivery, task, task.callback.url);
  if (delivery.status !== 'pending' || delivery.scheduled_attempts > job.attempt) return 'duplicate';
  return scheduledAttempt(deps, delivery, task, task.callback.url, job.attempt);
};

// --- The delivery-log routes ------------------------------------------------------

export interface DeliveryLogDeps {
  store: TaskStore;
  clock: Clock;
  deliveries: DeliveryStore;
}

/** GET …/deliveries: the caller's own task only (another's is TASK_NOT_FOUND). */
export const listDeliveries = async (deps: DeliveryLogDeps, taskId: string, owner: string) => {
  await findTask(deps, taskId, owner);
  return { deliveries: (await deps.deliveries.list(taskId)).map(deliveryView) };
};

/** POST …/redeliver: the same event once more (same webhook-id), sent by the consumer, which holds the secret. */
export const requestRedelivery = async (
  deps: DeliveryLogDeps & { queue: DeliveryQueue },
  taskId: string,
  owner: string,
  deliveryId: string,
) => {
  await findTask(deps, taskId, owner);
  const delivery = await deps.deliveries.get({ task_id: taskId, delivery_id: deliveryId });
  if (!delivery) throw new AppError('DELIVERY_NOT_FOUND', `No delivery ${deliveryId} for task ${taskId}.`);
  await deps.queue.send(jobOf(delivery, { attempt: delivery.scheduled_attempts, redelivery: true }), 0);
  return deliveryView(delivery);
};
