import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
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

/**
 * The local monitoring page (a Flower for `npm start`): `/` serves the page,
 * `/_local/queues` the queue depths, `/_local/alarms` the state of each of
 * the service's alarms (read only). Everything else the page
 * does goes through the public API.
 */
export const monitorRoutes =
  (
    sqs: SQSClient,
    queues: Record<string, QueuePair>,
    alarms: () => Promise<AlarmState[]>,
    busEvents: () => BusEvent[],
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
    if (request.method === 'GET' && path === '/_local/queues') {
      const body = JSON.stringify(await queueDepths(sqs, queues));
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(body);
      return true;
    }
    return false;
  };
