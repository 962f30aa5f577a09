import { deliveryJobSchema } from '../core/delivery.js';
import { deliverEvent, type DeliveryDeps } from '../core/webhooks.js';
import { logger } from '../observability.js';
import { parseJson, sqsHandler } from './sqs-handler.js';
import { webhookDeps } from './webhook-deps.js';

/**
 * The webhook-deliveries queue: each message is one event to POST to its
 * task's callback_url (an announcement, a scheduled retry or a redelivery).
 * A failed POST is not a failed record: its retry is queued and the message
 * is done. A record fails only when AWS does, and SQS then delivers it again.
 */
export const makeWebhookDeliveriesHandler = (deps: () => DeliveryDeps) =>
  sqsHandler(async (record) => {
    const parsed = deliveryJobSchema.safeParse(parseJson(record.body));
    if (!parsed.success) {
      logger.error('Not a webhook delivery message; dropped', { message_id: record.messageId });
      return;
    }
    const job = parsed.data;
    const outcome = await deliverEvent(deps(), job);
    logger.info('Webhook delivery', {
      task_id: job.task_id,
      event_id: job.event.id,
      event_type: job.event.type,
      attempt: job.attempt,
      outcome,
    });
  });

export const handler = makeWebhookDeliveriesHandler(webhookDeps);
