import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { BatchJob } from '../core/batch.js';
import type { BatchJobQueue } from '../core/ports.js';

export class SqsBatchJobQueue implements BatchJobQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(job: BatchJob, delaySeconds = 0) {
    if (!this.queueUrl) throw new Error('No URL configured for the batch-jobs queue in this function');
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(job),
        ...(delaySeconds ? { DelaySeconds: delaySeconds } : {}),
      }),
    );
  }
}
