import * as z from 'zod';
import { listBatchTasks } from '../core/batches.js';
import { parseOrThrow } from '../documents/options.js';
import { TASK_STATUSES } from '../core/task.js';
import { batchApiDeps, batchIdOf, type BatchApiDeps } from './batch-deps.js';
import { callerOf, httpHandler, json } from './http.js';

const querySchema = z.strictObject({
  status: z.enum(TASK_STATUSES).optional(),
  limit: z.coerce.number().int('expected an integer').min(1).max(100).default(20),
  next_token: z.string().max(2048).optional(),
});

/**
 * GET /documents/async/batches/{batch_id}/tasks?status=&limit=&next_token=:
 * in listing order. With `status`, a page may hold fewer than `limit` tasks
 * and still have a `next_token`: go on until there is none.
 */
export const makeListBatchTasksHandler = (deps: () => BatchApiDeps) =>
  httpHandler(deps, async (event) => {
    const query = parseOrThrow(querySchema, event.queryStringParameters ?? {}, 'Invalid query');
    return json(
      200,
      await listBatchTasks(deps(), {
        batchId: batchIdOf(event),
        owner: callerOf(event),
        status: query.status,
        limit: query.limit,
        ...(query.next_token ? { cursor: query.next_token } : {}),
      }),
    );
  });

export const handler = makeListBatchTasksHandler(batchApiDeps);
