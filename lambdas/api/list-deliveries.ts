import { listDeliveries } from '../core/webhooks.js';
import { deliveriesApiDeps, type DeliveriesApiDeps } from './deliveries-deps.js';
import { callerOf, httpHandler, json, taskIdOf } from './http.js';

/** GET /documents/async/tasks/{task_id}/deliveries: every webhook delivery of the task, with its attempts. */
export const makeListDeliveriesHandler = (deps: () => DeliveriesApiDeps) =>
  httpHandler(deps, async (event) => json(200, await listDeliveries(deps(), taskIdOf(event), callerOf(event))));

export const handler = makeListDeliveriesHandler(deliveriesApiDeps);
