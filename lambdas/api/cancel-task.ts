import { taskSummary } from '../core/task-views.js';
import { cancelTask } from '../core/lifecycle.js';
import { apiDeps, type ApiDeps } from './deps.js';
import { callerOf, httpHandler, json, taskIdOf } from './http.js';

/** POST /documents/async/tasks/{task_id}/cancel: a running worker stops at its next stage boundary. */
export const makeCancelTaskHandler = (deps: () => ApiDeps) =>
  httpHandler(deps, async (event) => {
    const task = await cancelTask(deps(), taskIdOf(event), callerOf(event));
    return json(200, taskSummary(task));
  });

export const handler = makeCancelTaskHandler(apiDeps);
