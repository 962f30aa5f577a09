import { createHmac } from 'node:crypto';

/**
 * Webhook signatures as the Standard Webhooks specification defines them:
 * `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`,
 * keyed with the bytes of a secret written `whsec_<base64>`. Any receiver
 * library of that specification verifies them.
 */

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** The specification asks for 24 to 64 random bytes; fewer would be guessable. */
const MIN_KEY_BYTES = 24;

/**
 * The signing keys a secret value holds: one or more secrets separated by
 * spaces (several while receivers move to a new one), each `whsec_<base64>`
 * or bare base64 (a value the stack generated: letters and digits, which
 * read as base64). Throws naming what is wrong, never the value.
 */
export const parseSigningKeys = (value: string): Buffer[] => {
  const entries = value.split(/\s+/).filter(Boolean);
  if (!entries.length) throw new Error('The webhook secret is empty.');
  return entries.map((entry, index) => {
    const encoded = entry.startsWith(SECRET_PREFIX) ? entry.slice(SECRET_PREFIX.length) : entry;
    if (!BASE64.test(encoded)) throw new Error(`Webhook secret ${index + 1} is not base64 (whsec_<base64>).`);
    const key = Buffer.from(encoded, 'base64');
    if (key.length < MIN_KEY_BYTES) {
      throw new Error(`Webhook secret ${index + 1} has ${key.length} bytes; at least ${MIN_KEY_BYTES} are needed.`);
    }
    return key;
  });
};

/** The `webhook-signature` header: one `v1,…` per key, space-separated, in the secret's order. */
export const signatureHeader = (keys: readonly Uint8Array[], webhookId: string, timestamp: number, body: string) =>
  keys
    .map((key) => `v1,${createHmac('sha256', key).update(`${webhookId}.${timestamp}.${body}`).digest('base64')}`)
    .join(' ');
