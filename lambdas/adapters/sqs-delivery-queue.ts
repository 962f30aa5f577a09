import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeliveryJob } from '../core/delivery.js';
import type { DeliveryQueue } from '../core/ports.js';

export class SqsDeliveryQueue implements DeliveryQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(job: DeliveryJob, delaySeconds: number) {
    if (!this.queueUrl) throw new Error('No URL configured for the webhook-deliveries queue in this function');
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(job), DelaySeconds: delaySeconds }),
    );
  }
}
