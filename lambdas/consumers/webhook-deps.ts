import { blobStore, deliveryQueue, deliveryStore, taskStore } from '../adapters/index.js';
import { awsClients } from '../adapters/clients.js';
import { secretsManagerSigningKeys } from '../adapters/secrets-manager-signing-keys.js';
import { webhookPoster } from '../adapters/webhook-post.js';
import { once } from '../cold-start.js';
import { loadConfig, webhookDeliveriesEnvironmentSchema } from '../config.js';
import { systemClock } from '../core/ports.js';
import type { DeliveryDeps } from '../core/webhooks.js';
import { deliveryMetrics } from '../observability.js';
import { WEBHOOK_DELIVERY } from '../../shared/definitions.js';

/** The webhook consumer's dependencies, for a function whose environment is `env`. */
export const buildWebhookDeps = (env: NodeJS.ProcessEnv): DeliveryDeps => {
  const config = loadConfig(webhookDeliveriesEnvironmentSchema, env);
  return {
    store: taskStore(config.TABLE_NAME),
    deliveries: deliveryStore(config.DELIVERIES_TABLE_NAME),
    queue: deliveryQueue(config.WEBHOOK_QUEUE_URL),
    blobs: blobStore(),
    clock: systemClock,
    post: webhookPoster({
      policy: { allowPrivateAddresses: config.ALLOW_PRIVATE_URLS },
      timeoutMs: WEBHOOK_DELIVERY.requestTimeoutMs,
    }),
    signingKeys: secretsManagerSigningKeys(
      awsClients().secrets,
      config.WEBHOOK_SECRET_ARN,
      WEBHOOK_DELIVERY.secretCacheSeconds * 1000,
    ),
    metrics: deliveryMetrics,
    retry: { scale: config.WEBHOOK_RETRY_SCALE, random: Math.random },
    resultUrlTtlSeconds: config.RESULT_URL_TTL_SECONDS,
  };
};

/** Built once per cold start: the signing keys' cache lives as long as the execution environment. */
export const webhookDeps = once(() => buildWebhookDeps(process.env));
