import { deliveryQueue, deliveryStore, taskStore } from '../adapters/index.js';
import { once } from '../cold-start.js';
import { deliveriesApiEnvironmentSchema, loadConfig, type DeliveriesApiConfig } from '../config.js';
import { systemClock } from '../core/ports.js';
import type { DeliveryLogDeps } from '../core/webhooks.js';
import type { DeliveryQueue } from '../core/ports.js';

/** What the delivery-log routes work with: the task (whose owner may look), the log, and for redeliver the queue. */
export interface DeliveriesApiDeps extends DeliveryLogDeps {
  config: DeliveriesApiConfig;
  queue: DeliveryQueue;
}

export const buildDeliveriesApiDeps = (env: NodeJS.ProcessEnv): DeliveriesApiDeps => {
  const config = loadConfig(deliveriesApiEnvironmentSchema, env);
  return {
    config,
    store: taskStore(config.TABLE_NAME),
    deliveries: deliveryStore(config.DELIVERIES_TABLE_NAME),
    queue: deliveryQueue(config.WEBHOOK_QUEUE_URL),
    clock: systemClock,
  };
};

export const deliveriesApiDeps = once(() => buildDeliveriesApiDeps(process.env));
