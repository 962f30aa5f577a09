import { LONG_POLL } from '../../shared/definitions.js';
import { AppError } from '../errors.js';
import type { ProcessingResult } from '../documents/document.js';
import type { BlobStore, Clock, ListQuery, TaskStore } from './ports.js';
import { isTerminal, type ResultPointer, type Task } from './task.js';
import { taskSummary } from './task-views.js';

/** What the API reads of tasks: one task (its own caller's only), its result, a page of them. */
/**
 * A task that exists, is within its retention and belongs to `owner`, or
 * TASK_NOT_FOUND: another caller's task is indistinguishable from none.
 */
export const findTask = async (
  deps: { store: TaskStore; clock: Clock },
  taskId: string,
  owner: string,
): Promise<Task> => {
  const task = await deps.store.get(taskId);
  if (!task || task.owner !== owner || Date.parse(task.expires_at) <= deps.clock.now().getTime()) {
    throw new AppError('TASK_NOT_FOUND', `No task with id ${taskId}.`);
  }
  return task;
};

/**
 * A long poll: the task as soon as it is final, or as it is after `waitMs`.
 * Reads with growing pauses (`LONG_POLL`), each pause cut short at the end
 * of the wait, so the answer comes at most one pause after the task ends.
 */
export const awaitTask = async (
  deps: { store: TaskStore; clock: Clock; pause: (ms: number) => Promise<void> },
  taskId: string,
  owner: string,
  waitMs: number,
): Promise<Task> => {
  const deadline = deps.clock.now().getTime() + waitMs;
  let task = await findTask(deps, taskId, owner);
  for (
    let pause: number = LONG_POLL.firstPauseMs;
    !isTerminal(task.status);
    pause = Math.min(pause * 2, LONG_POLL.maxPauseMs)
  ) {
    const left = deadline - deps.clock.now().getTime();
    if (left <= 0) break;
    await deps.pause(Math.min(pause, left));
    task = await findTask(deps, taskId, owner);
  }
  return task;
};

export interface ResultPolicy {
  inlineLimitBytes: number;
  resultUrlTtlSeconds: number;
}

/** `GET tasks/{id}`: the summary, plus `result` on SUCCESS (inlined or as a link). */
export const taskDetail = async (deps: { blobs: BlobStore; clock: Clock }, task: Task, policy: ResultPolicy) => {
  const summary = taskSummary(task);
  if (task.status !== 'SUCCESS' || !task.result) return summary;
  const pointer = task.result;
  if (pointer.json_bytes <= policy.inlineLimitBytes) {
    const stored = await deps.blobs
      .get(pointer.bucket, pointer.key, policy.inlineLimitBytes)
      .catch((error: unknown) => {
        // The task's own result is missing: our fault, a 500 that names nothing, never the client's 4xx.
        throw new AppError('INTERNAL_ERROR', 'The result of this task cannot be read.', {
          cause: error,
          expose: false,
        });
      });
    const text = Buffer.from(stored.bytes).toString('utf8');
    // The response travels as a string inside Lambda's JSON envelope, where every quote and backslash
    // is escaped again: a quote-heavy result near the limit would pass 6 MB there. Measure it escaped.
    if (Buffer.byteLength(JSON.stringify(text)) <= policy.inlineLimitBytes) {
      return { ...summary, result: JSON.parse(text) as ProcessingResult };
    }
  }
  return { ...summary, result: await linkedResult(deps, pointer, policy.resultUrlTtlSeconds) };
};

/** A result without its documents, and a presigned link to the whole of it (GET tasks/{id}, webhooks). */
export const linkedResult = async (
  deps: { blobs: BlobStore; clock: Clock },
  pointer: ResultPointer,
  resultUrlTtlSeconds: number,
) => ({
  ...pointer.headline,
  result_url: await deps.blobs.presignGet(pointer.bucket, pointer.key, resultUrlTtlSeconds),
  result_url_expires_at: new Date(deps.clock.now().getTime() + resultUrlTtlSeconds * 1000).toISOString(),
});

export const listTasks = async (deps: { store: TaskStore }, query: ListQuery) => {
  const page = await deps.store.list(query);
  return {
    tasks: page.tasks.map(taskSummary),
    ...(page.cursor ? { next_token: page.cursor } : {}),
  };
};
