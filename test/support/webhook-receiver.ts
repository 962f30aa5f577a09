import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST the receiver got: its Standard Webhooks headers, its body, and whether the signature held. */
export interface ReceivedWebhook {
  path: string;
  id: string;
  timestamp: number;
  body: { type: string; timestamp: string; data: Record<string, any> };
  verified: boolean;
  /** What the receiver answered. */
  status: number;
}

/**
 * Verifies a delivery as a receiver must, written here from the
 * specification rather than taken from the service: HMAC-SHA256 over
 * `{id}.{timestamp}.{body}` with each secret's decoded bytes, any one `v1,`
 * signature matching, the timestamp within five minutes.
 */
export const verifyWebhook = (secret: string, headers: IncomingHttpHeaders, body: string): boolean => {
  const id = String(headers['webhook-id'] ?? '');
  const timestamp = Number(headers['webhook-timestamp']);
  if (!id || !Number.isInteger(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > 300) return false;
  const expected = secret
    .split(' ')
    .filter(Boolean)
    .map((entry) =>
      createHmac('sha256', Buffer.from(entry.replace(/^whsec_/, ''), 'base64'))
        .update(`${id}.${timestamp}.${body}`)
        .digest(),
    );
  return String(headers['webhook-signature'] ?? '')
    .split(' ')
    .some((entry) => {
      const [version, signature = ''] = entry.split(',');
      const given = Buffer.from(signature, 'base64');
      return version === 'v1' && expected.some((key) => key.length === given.length && timingSafeEqual(key, given));
    });
};

/**
 * A loopback webhook receiver for the integration tests. `/ok` answers 204;
 * `/flaky` answers 503 to the first POST of each webhook-id, then 200.
 */
export const startWebhookReceiver = async (secret: string) => {
  const received: ReceivedWebhook[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const id = String(request.headers['webhook-id'] ?? '');
      const path = request.url ?? '/';
      const seen = received.some((entry) => entry.id === id);
      const status = path === '/flaky' && !seen ? 503 : path === '/flaky' ? 200 : 204;
      received.push({
        path,
        id,
        timestamp: Number(request.headers['webhook-timestamp']),
        body: JSON.parse(text) as ReceivedWebhook['body'],
        verified: verifyWebhook(secret, request.headers, text),
        status,
      });
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    /** What arrived about one task, in order. */
    forTask: (taskId: string) => received.filter((entry) => entry.body.data.task_id === taskId),
    /** Waits until `ready` holds (polling; the deadline only ends a test that would otherwise hang). */
    until: async (ready: () => boolean, timeoutMs = 30_000) => {
      for (const deadline = Date.now() + timeoutMs; !ready();) {
        if (Date.now() > deadline) throw new Error(`webhooks not received: ${JSON.stringify(received, null, 1)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
