/**
 * A webhook receiver: checks each delivery's signature (Standard Webhooks,
 * with the SDK's `parseWebhook`), drops a delivery it has already had (same
 * webhook-id), and prints the event.
 *
 *   DOCPROC_WEBHOOK_SECRET=whsec_… npm run example:webhook-receiver -- [port]
 *
 * Give tasks `callback_url=http://127.0.0.1:<port>/` (the embedded stack takes
 * a loopback callback with `npm start -- --allow-private-urls`, and prints its
 * secret at start; on AWS the secret is in Secrets Manager, output
 * `WebhookSecretArn`).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseWebhook, type WebhookEvent } from '../sdk/index.js';

/** One or more `whsec_…` secrets, space-separated (several while the service rotates them). */
const secret = process.env.DOCPROC_WEBHOOK_SECRET;
if (!secret) throw new Error('Set DOCPROC_WEBHOOK_SECRET to the whsec_… secret the service signs with.');

const seen = new Set<string>();

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    let event: WebhookEvent;
    try {
      if (request.method !== 'POST') throw new Error('not a POST');
      // The raw bytes, exactly as received: the signature covers them, not a re-serialised parse.
      // Timestamps more than five minutes away are refused too: a captured delivery cannot be replayed later.
      event = parseWebhook(secret, request.headers, Buffer.concat(chunks));
    } catch {
      console.log('refused: bad or missing signature');
      response.writeHead(401).end();
      return;
    }
    const id = String(request.headers['webhook-id']);
    // Deliveries come at least once: the webhook-id says which ones were already handled.
    if (seen.has(id)) {
      console.log(`duplicate ${id}`);
    } else {
      seen.add(id);
      console.log(`${event.type} ${event.data.task_id} ${event.data.status} (${id})`);
    }
    // Answer 2xx at once; slow work belongs after the answer (the service waits 10 s, then tries again).
    response.writeHead(204).end();
  });
});

server.listen(Number(process.argv[2] ?? process.env.PORT ?? 9000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
});
