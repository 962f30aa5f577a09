import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { BulkJobQueue, PartQueue } from '../core/ports.js';
import type { PartMessage, QueueClass, TaskMessage } from '../core/task.js';

/** SQS takes at most ten messages per SendMessageBatch. */
const SQS_BATCH_LIMIT = 10;

export class SqsJobQueue implements BulkJobQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrls: Record<QueueClass, string>,
  ) {}

  private urlOf(queue: QueueClass): string {
    if (!this.queueUrls[queue]) throw new Error(`No URL configured for the ${queue} queue in this function`);
    return this.queueUrls[queue];
  }

  async send(queue: QueueClass, message: TaskMessage) {
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.urlOf(queue), MessageBody: JSON.stringify(message) }),
    );
  }

  /** SendMessageBatch answers 200 with its refused entries listed: any refusal is an error here. */
  async sendMany(queue: QueueClass, messages: readonly TaskMessage[]) {
    const url = this.urlOf(queue);
    for (let start = 0; start < messages.length; start += SQS_BATCH_LIMIT) {
      const entries = messages.slice(start, start + SQS_BATCH_LIMIT).map((message, index) => ({
        Id: String(index),
        MessageBody: JSON.stringify(message),
      }));
      const { Failed } = await this.client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
      if (Failed?.length) {
        const [first] = Failed;
        throw new Error(
          `SendMessageBatch refused ${Failed.length} messages: ${first?.Code ?? ''} ${first?.Message ?? ''}`,
        );
      }
    }
  }
}

/** The pages queue: a fanned-out run's parts, ten to a request. */
export class SqsPartQueue implements PartQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async sendParts(messages: readonly PartMessage[]) {
    for (let start = 0; start < messages.length; start += SQS_BATCH_LIMIT) {
      const entries = messages.slice(start, start + SQS_BATCH_LIMIT).map((message, index) => ({
        Id: String(index),
        MessageBody: JSON.stringify(message),
      }));
      const { Failed } = await this.client.send(
        new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }),
      );
      if (Failed?.length) {
        const [first] = Failed;
        throw new Error(
          `SendMessageBatch refused ${Failed.length} parts: ${first?.Code ?? ''} ${first?.Message ?? ''}`,
        );
      }
    }
  }
}
