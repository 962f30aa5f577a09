import { callbackOf } from '../core/events.js';
import { submit } from '../core/submission.js';
import { apiDeps, submissionPolicy, SUBMITTED_MESSAGE, type ApiDeps } from './deps.js';
import { readSourceForm, resolveSource } from './document-request.js';
import { callerOf, httpHandler, idempotencyKeyOf, json } from './http.js';

/** POST /documents/async/process: a URL or an s3:// URI, as JSON or a form. */
export const makeProcessHandler = (deps: () => ApiDeps) =>
  httpHandler(deps, async (event) => {
    const { source, options, callback } = readSourceForm(event, { withCallback: true });
    const checkedCallback = callbackOf(callback, deps().config.ALLOW_PRIVATE_URLS);
    const request = await resolveSource(deps(), source);
    const outcome = await submit(deps(), submissionPolicy(deps().config), {
      request,
      options,
      owner: callerOf(event),
      idempotencyKey: idempotencyKeyOf(event),
      callback: checkedCallback,
    });
    return json(outcome.replayed ? 200 : 202, {
      task_id: outcome.task.task_id,
      status: outcome.task.status,
      message: SUBMITTED_MESSAGE,
    });
  });

export const handler = makeProcessHandler(apiDeps);
