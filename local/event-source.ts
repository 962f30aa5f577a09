import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { FunctionRuntime } from './lambda-runtime.js';

export interface EventSourceOptions {
  queueUrl: string;
  queueArn: string;
  batchSize: number;
  /** Concurrent invocations at most: the mapping's `maxConcurrency`. */
  maxConcurrency: number;
  /** Long-poll wait, as the Lambda pollers use (20 s). */
  waitSeconds?: number;
  onError?: (error: unknown) => void;
  /** Each non-empty receive: how many messages (the queue's NumberOfMessagesReceived). */
  onReceived?: (count: number) => void;
}

const toRecord = (message: Message, options: EventSourceOptions): SQSRecord => ({
  messageId: String(message.MessageId),
  receiptHandle: String(message.ReceiptHandle),
  body: message.Body ?? '',
  attributes: {
    ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
    SentTimestamp: message.Attributes?.SentTimestamp ?? String(Date.now()),
    SenderId: 'local',
    ApproximateFirstReceiveTimestamp: message.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  },
  messageAttributes: {},
  md5OfBody: message.MD5OfBody ?? '',
  eventSource: 'aws:sqs',
  eventSourceARN: options.queueArn,
  awsRegion: 'us-east-1',
});

/**
 * What a Lambda SQS event source mapping does: long-poll the queue, invoke
 * the function with batches (at most `maxConcurrency` at once), delete the
 * records that did not fail (ReportBatchItemFailures), and leave the failed
 * ones to reappear after the visibility timeout, and so, after
 * maxReceiveCount receives, to move to the DLQ.
 */
export class SqsEventSource {
  private running = false;
  private readonly aborts = new Set<AbortController>();
  private readonly loops: Promise<void>[] = [];
  private inFlight = 0;

  constructor(
    private readonly sqs: SQSClient,
    private readonly runtime: FunctionRuntime,
    private readonly options: EventSourceOptions,
  ) {}

  get busy(): number {
    return this.inFlight;
  }

  start(): void {
    this.running = true;
    for (let slot = 0; slot < this.options.maxConcurrency; slot++) this.loops.push(this.poll());
  }

  /** Stops receiving; invocations under way finish (their messages are deleted or return to the queue). */
  async stop(): Promise<void> {
    this.running = false;
    for (const abort of this.aborts) abort.abort();
    await Promise.all(this.loops);
  }

  private async poll(): Promise<void> {
    while (this.running) {
      const abort = new AbortController();
      this.aborts.add(abort);
      let messages: Message[];
      try {
        const response = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.options.queueUrl,
            MaxNumberOfMessages: this.options.batchSize,
            WaitTimeSeconds: this.options.waitSeconds ?? 20,
            MessageSystemAttributeNames: [
              'ApproximateReceiveCount',
              'SentTimestamp',
              'ApproximateFirstReceiveTimestamp',
            ],
          }),
          { abortSignal: abort.signal },
        );
        messages = response.Messages ?? [];
      } catch (error) {
        if (!this.running) break;
        this.options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      } finally {
        this.aborts.delete(abort);
      }
      if (messages.length) {
        this.options.onReceived?.(messages.length);
        await this.deliver(messages);
      }
    }
  }

  private async deliver(messages: Message[]): Promise<void> {
    const records = messages.map((message) => toRecord(message, this.options));
    this.inFlight++;
    let failed: Set<string>;
    try {
      const event: SQSEvent = { Records: records };
      const response = await this.runtime.invoke<SQSBatchResponse | undefined>(event);
      failed = new Set((response ?? { batchItemFailures: [] }).batchItemFailures.map((item) => item.itemIdentifier));
    } catch (error) {
      // A failed invocation fails the whole batch: every message comes back later.
      this.options.onError?.(error);
      failed = new Set(records.map((record) => record.messageId));
    } finally {
      this.inFlight--;
    }
    const done = records.filter((record) => !failed.has(record.messageId));
    if (!done.length) return;
    await this.sqs
      .send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: done.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
        }),
      )
      .catch((error: unknown) => this.options.onError?.(error));
  }
}
