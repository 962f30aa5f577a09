import { findTask, taskDetail } from '../core/task-queries.js';
import { apiDeps, type ApiDeps } from './deps.js';
import { callerOf, httpHandler, json, taskIdOf } from './http.js';

/** GET /documents/async/tasks/{task_id}: status, progress, and the result once there is one. */
export const makeGetTaskHandler = (deps: () => ApiDeps) =>
  httpHandler(deps, async (event) => {
    const task = await findTask(deps(), taskIdOf(event), callerOf(event));
    const { config } = deps();
    const detail = await taskDetail(deps(), task, {
      inlineLimitBytes: config.RESULT_INLINE_LIMIT_BYTES,
      resultUrlTtlSeconds: config.RESULT_URL_TTL_SECONDS,
    });
    return json(200, detail);
  });

export const handler = makeGetTaskHandler(apiDeps);
