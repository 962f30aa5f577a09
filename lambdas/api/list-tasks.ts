import * as z from 'zod';
import { parseOrThrow } from '../documents/options.js';
import { TASK_STATUSES } from '../core/task.js';
import { listTasks } from '../core/task-queries.js';
import { apiDeps, type ApiDeps } from './deps.js';
import { callerOf, httpHandler, json } from './http.js';

const querySchema = z.strictObject({
  status: z.enum(TASK_STATUSES).optional(),
  limit: z.coerce.number().int('expected an integer').min(1).max(100).default(20),
  next_token: z.string().max(2048).optional(),
});

/** GET /documents/async/tasks?status=&limit=&next_token=: newest first, without a table scan. */
export const makeListTasksHandler = (deps: () => ApiDeps) =>
  httpHandler(deps, async (event) => {
    const query = parseOrThrow(querySchema, event.queryStringParameters ?? {}, 'Invalid query');
    return json(
      200,
      await listTasks(deps(), {
        owner: callerOf(event),
        status: query.status,
        limit: query.limit,
        cursor: query.next_token,
      }),
    );
  });

export const handler = makeListTasksHandler(apiDeps);
