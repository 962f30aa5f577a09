import { AppError } from '../errors.js';
import { requestRedelivery } from '../core/webhooks.js';
import { TASK_ID_PATTERN } from '../core/task.js';
import { deliveriesApiDeps, type DeliveriesApiDeps } from './deliveries-deps.js';
import { callerOf, httpHandler, json, taskIdOf, type ApiEvent } from './http.js';

/** `{delivery_id}` from the path: an event id; anything else is a 404 like an unknown one. */
const deliveryIdOf = (event: ApiEvent): string => {
  const id = event.pathParameters?.delivery_id ?? '';
  if (!TASK_ID_PATTERN.test(id)) throw new AppError('DELIVERY_NOT_FOUND', `No delivery with id ${id.slice(0, 64)}.`);
  return id.toLowerCase();
};

/**
 * POST /documents/async/tasks/{task_id}/deliveries/{delivery_id}/redeliver:
 * the same event once more, with the same webhook-id, whatever became of the
 * delivery; the attempt shows in the log.
 */
export const makeRedeliverHandler = (deps: () => DeliveriesApiDeps) =>
  httpHandler(deps, async (event) => {
    const taskId = taskIdOf(event);
    const delivery = await requestRedelivery(deps(), taskId, callerOf(event), deliveryIdOf(event));
    return json(202, { ...delivery, message: 'Redelivery queued' });
  });

export const handler = makeRedeliverHandler(deliveriesApiDeps);
