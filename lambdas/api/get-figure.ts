import { AppError } from '../errors.js';
import { FIGURE_ID_PATTERN } from '../documents/figures/figures.js';
import { findTask } from '../core/task-queries.js';
import { figureKey } from '../consumers/run-outcome.js';
import { apiDeps, type ApiDeps } from './deps.js';
import { callerOf, httpHandler, json, taskIdOf } from './http.js';

/**
 * GET /documents/async/tasks/{task_id}/figures/{figure_id}: one figure of a
 * succeeded task (option `figures`), for the task's owner only: a
 * short-lived presigned GET of the stored picture (its media type is the
 * object's), like `result_url`. A link, not a redirect: a client that follows
 * redirects would send its API key header on to the storage host. Another
 * caller's task, an unknown figure and a task without figures are all a 404.
 */
export const makeGetFigureHandler = (deps: () => ApiDeps) =>
  httpHandler(deps, async (event) => {
    const taskId = taskIdOf(event);
    const figureId = (event.pathParameters?.figure_id ?? '').toLowerCase();
    const notFound = new AppError('FIGURE_NOT_FOUND', `Task ${taskId} has no figure ${figureId.slice(0, 64)}.`);
    if (!FIGURE_ID_PATTERN.test(figureId)) throw notFound;
    const task = await findTask(deps(), taskId, callerOf(event));
    const { config, blobs, clock } = deps();
    if (task.status !== 'SUCCESS' || !task.result?.headline.stats.figures) throw notFound;
    const key = figureKey(task.task_id, figureId);
    const head = await blobs.head(config.BUCKET_NAME, key);
    if (!head) throw notFound;
    const ttl = config.RESULT_URL_TTL_SECONDS;
    const url = await blobs.presignGet(config.BUCKET_NAME, key, ttl);
    return json(200, {
      task_id: task.task_id,
      figure_id: figureId,
      media_type: head.contentType ?? 'application/octet-stream',
      bytes: head.size,
      url,
      expires_at: new Date(clock.now().getTime() + ttl * 1000).toISOString(),
    });
  });

export const handler = makeGetFigureHandler(apiDeps);
