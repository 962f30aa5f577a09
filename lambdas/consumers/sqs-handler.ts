import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { logger, publishMetrics } from '../observability.js';

/** A message body as JSON, or undefined when it is not JSON. */
export const parseJson = (body: string): unknown => {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
};

/**
 * An SQS-triggered handler: records run one after another, a record whose
 * handler throws is reported as a batch item failure (SQS delivers it again),
 * the Lambda context goes on every log line, metrics are flushed at the end.
 */
export const sqsHandler =
  (handleRecord: (record: SQSRecord, context: Context) => Promise<void>) =>
  async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    // One processor per invocation: it holds the batch's state, and the local runtime may run invocations side by side.
    const processor = new BatchProcessor(EventType.SQS);
    logger.addContext(context);
    try {
      return await processPartialResponse(event, (record: SQSRecord) => handleRecord(record, context), processor, {
        context,
        processInParallel: false,
        throwOnFullBatchFailure: false,
      });
    } finally {
      publishMetrics();
    }
  };
