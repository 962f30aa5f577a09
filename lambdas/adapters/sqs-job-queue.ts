import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { JobQueue } from '../core/ports.js';
import type { QueueClass, TaskMessage } from '../core/task.js';

export class SqsJobQueue implements JobQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrls: Record<QueueClass, string>,
  ) {}

  async send(queue: QueueClass, message: TaskMessage) {
    if (!this.queueUrls[queue]) throw new Error(`No URL configured for the ${queue} queue in this function`);
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrls[queue], MessageBody: JSON.stringify(message) }),
    );
  }
}
