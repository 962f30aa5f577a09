import { taskSummary } from '../core/task-views.js';
import { cancelTask } from '../core/tasks.js';
import { apiDeps, type ApiDeps } from './deps.js';
import { httpHandler, json, taskIdOf } from './http.js';

/** POST /documents/async/tasks/{task_id}/cancel: a running worker stops at its next stage boundary. */
export const makeCancelTaskHandler = (deps: () => ApiDeps) =>
  httpHandler(async (event) => json(200, taskSummary(await cancelTask(deps(), taskIdOf(event)))));

export const handler = makeCancelTaskHandler(apiDeps);
