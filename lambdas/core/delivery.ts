import * as z from 'zod';
import { WEBHOOK_EVENT_TYPES } from './task.js';

/** The body of a message on the webhook-deliveries queue: one event of one task, for its callback_url. */
export const webhookDeliveryMessageSchema = z.object({
  v: z.literal(1),
  task_id: z.uuid(),
  event: z.object({ id: z.uuid(), type: z.enum(WEBHOOK_EVENT_TYPES), occurred_at: z.string() }),
  /** The task view (taskSummary in core/task-views.ts) as of the event. */
  task: z.record(z.string(), z.unknown()),
});
export type WebhookDeliveryMessage = z.infer<typeof webhookDeliveryMessageSchema>;

/**
 * The webhook delivery log: one delivery per event sent to a task's
 * callback_url, with every attempt made to send it.
 */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One POST: when, and how the receiver answered (`status_code`) or why there was no answer (`error`). */
export interface DeliveryAttempt {
  at: string;
  status_code?: number | undefined;
  error?: string | undefined;
  duration_ms: number;
}

/** A delivery as the log keeps it. */
export interface Delivery {
  task_id: string;
  /** The event's id: one delivery per event. */
  delivery_id: string;
  event_type: WebhookDeliveryMessage['event']['type'];
  /** `msg_<event id>`: the same on every attempt, so receivers can drop duplicates. */
  webhook_id: string;
  status: DeliveryStatus;
  attempts: DeliveryAttempt[];
  /**
   * Attempts of the retry schedule made so far (redeliveries are not
   * counted): a queued attempt that finds more was superseded, and is dropped.
   */
  scheduled_attempts: number;
  next_attempt_at?: string | undefined;
  created_at: string;
  updated_at: string;
  /** The event and the task view as announced: what every attempt and redelivery sends. */
  event: WebhookDeliveryMessage['event'];
  task: WebhookDeliveryMessage['task'];
  /** The task's own retention: the log goes with its task. */
  expires_at: string;
}

/**
 * A message on the webhook-deliveries queue: an announced event (the
 * announcer's message, events.ts), or a later attempt this consumer queued.
 */
export const deliveryJobSchema = webhookDeliveryMessageSchema.extend({
  /** Scheduled attempts already made when this one was queued; 0 for the announcement. */
  attempt: z.number().int().nonnegative().default(0),
  /** Not to be tried before this time: a retry further off than SQS can delay a message is queued again. */
  not_before: z.iso.datetime().optional(),
  /** One attempt the owner asked for (POST …/redeliver), outside the schedule. */
  redelivery: z.literal(true).optional(),
});
export type DeliveryJob = z.infer<typeof deliveryJobSchema>;

export const webhookIdOf = (eventId: string) => `msg_${eventId}`;

/** A delivery as the API shows it (GET …/deliveries). */
export const deliveryView = (delivery: Delivery) => ({
  delivery_id: delivery.delivery_id,
  event_type: delivery.event_type,
  webhook_id: delivery.webhook_id,
  status: delivery.status,
  created_at: delivery.created_at,
  attempts: delivery.attempts,
  ...(delivery.status === 'pending' && delivery.next_attempt_at ? { next_attempt_at: delivery.next_attempt_at } : {}),
});
