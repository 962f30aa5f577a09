import * as z from 'zod';
import { LONG_POLL } from '../../shared/definitions.js';
import { parseOrThrow } from '../documents/options.js';
import { awaitTask, taskDetail } from '../core/task-queries.js';
import { apiDeps, type ApiDeps } from './deps.js';
import { callerOf, httpHandler, json, taskIdOf } from './http.js';

/** Other parameters are ignored, as before `wait` existed (clients add cache-busting ones). */
const querySchema = z.object({
  wait: z.coerce
    .number()
    .int('expected whole seconds')
    .min(0)
    .max(LONG_POLL.maxWaitSeconds, `at most ${LONG_POLL.maxWaitSeconds} seconds`)
    .default(0),
});

/**
 * GET /documents/async/tasks/{task_id}[?wait=N]: status, progress, and the
 * result once there is one; with `wait`, answered as soon as the task is
 * final or after N seconds (a long poll).
 */
export const makeGetTaskHandler = (deps: () => ApiDeps) =>
  httpHandler(deps, async (event) => {
    const { wait } = parseOrThrow(querySchema, event.queryStringParameters ?? {}, 'Invalid query');
    const task = await awaitTask(deps(), taskIdOf(event), callerOf(event), wait * 1000);
    const { config } = deps();
    const detail = await taskDetail(deps(), task, {
      inlineLimitBytes: config.RESULT_INLINE_LIMIT_BYTES,
      resultUrlTtlSeconds: config.RESULT_URL_TTL_SECONDS,
    });
    return json(200, detail);
  });

export const handler = makeGetTaskHandler(apiDeps);
