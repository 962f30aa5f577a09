import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoBatchStore } from '../lambdas/adapters/dynamo-batch-store.js';
import { DynamoTaskStore } from '../lambdas/adapters/dynamo-task-store.js';
import { batchView, type BatchView } from '../lambdas/core/batch.js';
import { TABLE } from '../shared/definitions.js';
import type { AlarmState } from './metrics.js';
import type { QueuePair } from './provision.js';
import type { BusEvent } from './event-bus.js';

const PAGE = readFileSync(new URL('./monitor/index.html', import.meta.url));

export interface QueueDepth {
  name: string;
  visible: number;
  inFlight: number;
  deadLetters: number;
}

/** Depths of each work queue and its DLQ: what the local page shows instead of the CloudWatch dashboard. */
export const queueDepths = async (sqs: SQSClient, queues: Record<string, QueuePair>): Promise<QueueDepth[]> =>
  Promise.all(
    Object.entries(queues).map(async ([name, pair]) => {
      const attributes = async (url: string) =>
        (
          await sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: url,
              AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
            }),
          )
        ).Attributes ?? {};
      const [queue, deadLetters] = await Promise.all([attributes(pair.url), attributes(pair.deadLetters.url)]);
      return {
        name,
        visible: Number(queue.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(queue.ApproximateNumberOfMessagesNotVisible ?? 0),
        deadLetters: Number(deadLetters.ApproximateNumberOfMessages ?? 0),
      };
    }),
  );

/** Batches the page shows at most, newest first. */
const RECENT_BATCHES = 20;
/** Failed children read per batch to count their error codes (a query page each, filtered on FAILURE). */
const FAILURE_PAGE = 200;
const FAILURE_PAGES = 5;

export interface BatchSummary extends BatchView {
  /** Failed children by error code, over the first `failures_counted` of them. */
  failures: Record<string, number>;
  /** How many failed children were read: fewer than `counts.FAILURE` when the cap stopped the count. */
  failures_counted: number;
}

const failureCodes = async (tasks: DynamoTaskStore, batchId: string) => {
  const failures: Record<string, number> = {};
  let counted = 0;
  let cursor: string | undefined;
  // The status filter applies after each page is read, so pages are capped rather than failures:
  // a huge batch's codes are those of its first FAILURE_PAGES × FAILURE_PAGE children.
  for (let page = 0; page < FAILURE_PAGES; page++) {
    const result = await tasks.listBatch({ batchId, status: 'FAILURE', limit: FAILURE_PAGE, cursor });
    for (const task of result.tasks) {
      const code = task.error?.code ?? 'UNKNOWN';
      failures[code] = (failures[code] ?? 0) + 1;
      counted++;
    }
    cursor = result.cursor;
    if (!cursor) break;
  }
  return { failures, failures_counted: counted };
};

/**
 * The most recent batches, with their public view and their failures by
 * code, for the page's Batches panel. Batch heads are in no index (the
 * service only ever reads one by id), so this scans the table for them:
 * acceptable for a local development tool over the local emulator's table,
 * never something the deployed service does.
 */
export const recentBatches = async (
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  now: () => Date = () => new Date(),
): Promise<BatchSummary[]> => {
  const heads: Array<{ id: string; createdAt: string }> = [];
  let start: Record<string, unknown> | undefined;
  do {
    const { Items, LastEvaluatedKey } = await dynamo.send(
      new ScanCommand({
        TableName: tableName,
        // Counter items (`batch#{id}#{shard}`) carry no request: only heads match.
        FilterExpression: 'begins_with(#pk, :batch) AND attribute_exists(#request)',
        ProjectionExpression: '#pk, #request.#created',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#request': 'request', '#created': 'created_at' },
        ExpressionAttributeValues: { ':batch': 'batch#' },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of Items ?? []) {
      const id = String(item[TABLE.partitionKey]).slice('batch#'.length);
      if (id.includes('#')) continue;
      heads.push({ id, createdAt: String((item.request as { created_at?: string } | undefined)?.created_at ?? '') });
    }
    start = LastEvaluatedKey;
  } while (start);

  const batches = new DynamoBatchStore(dynamo, tableName);
  const tasks = new DynamoTaskStore(dynamo, tableName);
  const newest = heads.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, RECENT_BATCHES);
  const summaries = await Promise.all(
    newest.map(async ({ id }): Promise<BatchSummary | undefined> => {
      const batch = await batches.get(id);
      // Past its retention the API answers 404 for it (the emulator's TTL sweep may not have run yet).
      if (!batch || Date.parse(batch.expires_at) <= now().getTime()) return undefined;
      const view = batchView(batch, await batches.tally(batch));
      const failures = view.counts.FAILURE > 0 ? await failureCodes(tasks, id) : { failures: {}, failures_counted: 0 };
      return { ...view, ...failures };
    }),
  );
  return summaries.filter((summary): summary is BatchSummary => summary !== undefined);
};

/**
 * The local monitoring page (a Flower for `npm start`): `/` serves the page,
 * `/_local/queues` the queue depths, `/_local/alarms` the state of each of
 * the service's alarms, `/_local/events` the bus's events and
 * `/_local/batches` the recent batches (all read only, and across every
 * caller). Everything else the page does goes through the public API.
 */
export const monitorRoutes =
  (
    sqs: SQSClient,
    queues: Record<string, QueuePair>,
    alarms: () => Promise<AlarmState[]>,
    busEvents: () => BusEvent[],
    batches: () => Promise<BatchSummary[]>,
  ) =>
  async (request: IncomingMessage, response: ServerResponse): Promise<boolean> => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method === 'GET' && (path === '/' || path === '/monitor')) {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(PAGE);
      return true;
    }
    if (request.method === 'GET' && path === '/_local/alarms') {
      const body = JSON.stringify(await alarms());
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(body);
      return true;
    }
    if (request.method === 'GET' && path === '/_local/events') {
      // Newest first, as the monitor page lists them.
      const body = JSON.stringify(busEvents().slice(-200).reverse());
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(body);
      return true;
    }
    if (request.method === 'GET' && path === '/_local/batches') {
      // Several reads per batch: one failing (say, the emulator stopping) answers 500 rather than leaving the page waiting.
      let status = 200;
      let body: string;
      try {
        body = JSON.stringify(await batches());
      } catch (error) {
        status = 500;
        body = JSON.stringify({ error: { code: 'LOCAL_BATCHES_FAILED', message: (error as Error).message } });
      }
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(body);
      return true;
    }
    if (request.method === 'GET' && path === '/_local/queues') {
      const body = JSON.stringify(await queueDepths(sqs, queues));
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(body);
      return true;
    }
    return false;
  };
