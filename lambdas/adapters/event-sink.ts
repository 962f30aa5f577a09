import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DETAIL_TYPES, EVENT_SOURCE, eventDetail, isAnnounced, type WebhookDeliveryMessage } from '../core/events.js';
import type { BatchStore, EventSink } from '../core/ports.js';
import type { Task, TaskEvent } from '../core/task.js';

/** Where a function's events go: the bus, and the webhook-deliveries queue ('' where the function has none). */
export interface EventTargets {
  busName: string;
  webhookQueueUrl: string;
}

/**
 * Events onto the EventBridge bus, and onto the webhook-deliveries queue for
 * a task whose callback subscribed to them. PutEvents answers 200 with the
 * entries it refused counted: a refusal is a failed send too. A batch
 * child's change is counted by its batch first (every change of a child has
 * an event for it; counting the same row again changes nothing).
 */
export class AwsEventSink implements EventSink {
  constructor(
    private readonly clients: { events: EventBridgeClient; sqs: SQSClient },
    private readonly targets: EventTargets,
    private readonly batches: Pick<BatchStore, 'count'>,
  ) {}

  async send(task: Task, event: TaskEvent): Promise<void> {
    if (task.batch) await this.batches.count(task);
    if (!isAnnounced(event)) return;
    const detail = eventDetail(task, event);
    if (this.targets.busName) {
      const { FailedEntryCount, Entries } = await this.clients.events.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: this.targets.busName,
              Source: EVENT_SOURCE,
              DetailType: DETAIL_TYPES[event.type],
              Detail: JSON.stringify(detail),
              Time: new Date(event.occurred_at),
            },
          ],
        }),
      );
      if (FailedEntryCount) {
        const [entry] = Entries ?? [];
        throw new Error(`PutEvents refused the event: ${entry?.ErrorCode ?? ''} ${entry?.ErrorMessage ?? ''}`.trim());
      }
    }
    if (this.targets.webhookQueueUrl && task.callback?.events.includes(event.type)) {
      const message: WebhookDeliveryMessage = {
        v: 1,
        task_id: task.task_id,
        event: { id: event.id, type: event.type, occurred_at: event.occurred_at },
        task: detail,
      };
      await this.clients.sqs.send(
        new SendMessageCommand({ QueueUrl: this.targets.webhookQueueUrl, MessageBody: JSON.stringify(message) }),
      );
    }
  }
}
