import { taskSummary } from '../core/task-views.js';
import { retryTask } from '../core/lifecycle.js';
import { apiDeps, type ApiDeps } from './deps.js';
import { callerOf, httpHandler, json, taskIdOf } from './http.js';

/** POST /documents/async/tasks/{task_id}/retry: FAILURE or REVOKED back to PENDING, same input. */
export const makeRetryTaskHandler = (deps: () => ApiDeps) =>
  httpHandler(deps, async (event) => {
    const task = await retryTask(deps(), taskIdOf(event), callerOf(event));
    return json(202, { ...taskSummary(task), message: 'Task queued again' });
  });

export const handler = makeRetryTaskHandler(apiDeps);
