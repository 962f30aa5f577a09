import { createHmac, timingSafeEqual } from 'node:crypto';
import { DocprocError } from './errors.js';
import type { WebhookEvent } from './types.js';

/**
 * Standard Webhooks verification (https://www.standardwebhooks.com/), as the
 * service signs (`lambdas/core/webhook-signing.ts`): `webhook-signature` holds
 * one or more `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed
 * with the bytes of a `whsec_<base64>` secret. Written again here rather than
 * imported so that the SDK depends on nothing of the service.
 */

/** Request headers as Node's http server, fetch's Headers or a plain object give them. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** How far the timestamp may be from now, either way (default 300 s): older deliveries could be replays. */
  toleranceSeconds?: number;
  /** The clock, in epoch milliseconds (tests). */
  now?: () => number;
}

export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

const headerOf = (headers: WebhookHeaders, name: string): string | undefined => {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value.join(' ') : value;
};

/** The keys a secret holds: `whsec_<base64>` (or bare base64) entries, space-separated while they rotate. */
const keysOf = (secret: string | readonly string[]): Buffer[] =>
  (typeof secret === 'string' ? [secret] : secret)
    .flatMap((value) => value.split(/\s+/))
    .filter(Boolean)
    .map((entry) => Buffer.from(entry.replace(/^whsec_/, ''), 'base64'))
    .filter((key) => key.length > 0);

/** Why a delivery does not verify, or undefined when it does. */
const problemOf = (
  secret: string | readonly string[],
  headers: WebhookHeaders,
  body: string | Uint8Array,
  options: VerifyWebhookOptions,
): string | undefined => {
  const id = headerOf(headers, 'webhook-id');
  const timestampText = headerOf(headers, 'webhook-timestamp') ?? '';
  const signatures = headerOf(headers, 'webhook-signature');
  if (!id || !/^\d+$/.test(timestampText) || !signatures) return 'missing webhook-id, webhook-timestamp or signature';
  const tolerance = options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  const now = (options.now ?? Date.now)() / 1000;
  if (Math.abs(now - Number(timestampText)) > tolerance) return 'timestamp outside the tolerance';
  const keys = keysOf(secret);
  if (!keys.length) return 'no secret to verify with';
  const signed = Buffer.concat([Buffer.from(`${id}.${timestampText}.`), Buffer.from(body)]);
  const expected = keys.map((key) => createHmac('sha256', key).update(signed).digest());
  const matches = signatures.split(' ').some((entry) => {
    const [version, signature = ''] = entry.split(',');
    const given = Buffer.from(signature, 'base64');
    // Constant time: how long a comparison takes must not tell how much of a forgery was right.
    return version === 'v1' && expected.some((mac) => mac.length === given.length && timingSafeEqual(mac, given));
  });
  return matches ? undefined : 'no signature matches';
};

/**
 * Whether a delivery came from the service: a `v1` signature by one of the
 * secrets (several may be given, or one space-separated value, while they
 * rotate) and a timestamp within the tolerance. `body` must be the raw body,
 * exactly as received: parsing and re-serialising changes the bytes.
 */
export const verifyWebhook = (
  secret: string | readonly string[],
  headers: WebhookHeaders,
  body: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): boolean => problemOf(secret, headers, body, options) === undefined;

/** Verifies as `verifyWebhook` and returns the event; throws DocprocError `WEBHOOK_INVALID` saying why not. */
export const parseWebhook = (
  secret: string | readonly string[],
  headers: WebhookHeaders,
  body: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): WebhookEvent => {
  const problem = problemOf(secret, headers, body, options);
  if (problem) throw new DocprocError('WEBHOOK_INVALID', `Webhook refused: ${problem}.`, { status: 401 });
  return JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8')) as WebhookEvent;
};
