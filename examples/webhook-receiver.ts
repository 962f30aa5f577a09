/**
 * A webhook receiver: checks each delivery's signature (Standard Webhooks),
 * drops a delivery it has already had (same webhook-id), and prints the event.
 *
 *   DOCPROC_WEBHOOK_SECRET=whsec_… npm run example:webhook-receiver -- [port]
 *
 * Give tasks `callback_url=http://127.0.0.1:<port>/` (the embedded stack takes
 * a loopback callback with `npm start -- --allow-private-urls`, and prints its
 * secret at start; on AWS the secret is in Secrets Manager, output
 * `WebhookSecretArn`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Older timestamps are refused: a captured delivery cannot be replayed later. */
const TOLERANCE_SECONDS = 5 * 60;

const secret = process.env.DOCPROC_WEBHOOK_SECRET;
if (!secret) throw new Error('Set DOCPROC_WEBHOOK_SECRET to the whsec_… secret the service signs with.');

/** Each secret's key: the bytes its base64 stands for (several while the service rotates). */
const keys = secret
  .split(' ')
  .filter(Boolean)
  .map((entry) => Buffer.from(entry.replace(/^whsec_/, ''), 'base64'));

/** Whether `body` came from the service: a `v1` signature made with one of the keys, recently. */
const verify = (headers: IncomingHttpHeaders, body: string): boolean => {
  const id = headers['webhook-id'];
  const timestamp = Number(headers['webhook-timestamp']);
  const signatures = String(headers['webhook-signature'] ?? '').split(' ');
  if (typeof id !== 'string' || !Number.isInteger(timestamp)) return false;
  if (Math.abs(Date.now() / 1000 - timestamp) > TOLERANCE_SECONDS) return false;
  const expected = keys.map((key) => createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest());
  return signatures.some((entry) => {
    const [version, signature = ''] = entry.split(',');
    const given = Buffer.from(signature, 'base64');
    // Compared in constant time: timing must not tell how much of a forged signature was right.
    return version === 'v1' && expected.some((mac) => mac.length === given.length && timingSafeEqual(mac, given));
  });
};

const seen = new Set<string>();

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    if (request.method !== 'POST' || !verify(request.headers, body)) {
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
      const event = JSON.parse(body) as { type: string; data: { task_id: string; status: string } };
      console.log(`${event.type} ${event.data.task_id} ${event.data.status} (${id})`);
    }
    // Answer 2xx at once; slow work belongs after the answer (the service waits 10 s, then tries again).
    response.writeHead(204).end();
  });
});

server.listen(Number(process.argv[2] ?? process.env.PORT ?? 9000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
});
