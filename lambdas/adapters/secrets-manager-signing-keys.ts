import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SigningKeys } from '../core/ports.js';
import { parseSigningKeys } from '../core/webhook-signing.js';

/**
 * The webhook signing keys from Secrets Manager, kept for `cacheMs` and then
 * read again: a rotation (a second secret added to the value, the old one
 * removed later) reaches every warm function within that time.
 */
export const secretsManagerSigningKeys = (
  client: SecretsManagerClient,
  secretId: string,
  cacheMs: number,
  now: () => number = Date.now,
): SigningKeys => {
  let cached: { keys: Buffer[]; readAt: number } | undefined;
  return async () => {
    if (cached && now() - cached.readAt < cacheMs) return cached.keys;
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (SecretString === undefined) throw new Error('The webhook secret holds no string value.');
    cached = { keys: parseSigningKeys(SecretString), readAt: now() };
    return cached.keys;
  };
};
