import { createHash, randomUUID } from 'node:crypto';
import { AppError } from './errors.js';
import type { ProcessingResult } from './document.js';
import type { ProcessingOptions } from './options.js';
import type { BlobStore, Clock, JobQueue, ListQuery, TaskStore } from './ports.js';
import { taskMessage, type QueueClass, type Task, type TaskInput, type TaskSource, type TaskStatus } from './task.js';
import { taskSummary } from './task-views.js';

export interface TaskServiceDeps {
  store: TaskStore;
  blobs: BlobStore;
  queue: JobQueue;
  clock: Clock;
  newId?: () => string;
}

export interface SubmissionPolicy {
  taskRetentionDays: number;
  largeInputThresholdBytes: number;
}

export interface Submission {
  taskId: string;
  source: TaskSource;
  input: TaskInput;
  options: ProcessingOptions;
  /** Bytes, when known, decide the queue; unknown sizes (URLs) go to the standard queue. */
  sizeBytes?: number | undefined;
  status: Extract<TaskStatus, 'PENDING' | 'AWAITING_UPLOAD'>;
  uploadExpiresAt?: string | undefined;
  owner: string;
  idempotency?: { key: string; fingerprint: string } | undefined;
}

export type SubmitOutcome = { replayed: false; task: Task } | { replayed: true; task: Task };

const DAY_MS = 24 * 60 * 60 * 1000;

/** A stable digest of what a request asked for, to tell a replay from a conflicting reuse of a key. */
export const fingerprint = (...parts: unknown[]): string =>
  createHash('sha256').update(JSON.stringify(parts)).digest('hex');

/** Idempotency keys belong to the client that used them (its API key), never shared across clients. */
export const scopedKey = (key: string, owner: string): string => `${owner}#${key}`;

export const queueFor = (sizeBytes: number | undefined, policy: SubmissionPolicy): QueueClass =>
  sizeBytes !== undefined && sizeBytes > policy.largeInputThresholdBytes ? 'large' : 'standard';

export const newTaskId = (): string => randomUUID();

/**
 * Creates the task row (with its idempotency record) and, for PENDING tasks,
 * queues it. If queueing fails the row is removed again, so a client never
 * holds the id of a task that nothing will run.
 */
export const submitTask = async (
  deps: TaskServiceDeps,
  policy: SubmissionPolicy,
  submission: Submission,
): Promise<SubmitOutcome> => {
  const now = deps.clock.now();
  const task: Task = {
    task_id: submission.taskId,
    status: submission.status,
    progress: 0,
    stage: 'queued',
    source: submission.source,
    input: submission.input,
    options: submission.options,
    queue: queueFor(submission.sizeBytes, policy),
    attempts: 1,
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
    expires_at: new Date(now.getTime() + policy.taskRetentionDays * DAY_MS).toISOString(),
    ...(submission.uploadExpiresAt ? { upload_expires_at: submission.uploadExpiresAt } : {}),
    owner: submission.owner,
  };
  const idempotency = submission.idempotency ? { ...submission.idempotency, task_id: task.task_id } : undefined;
  const created = await deps.store.create(task, idempotency);
  if (!created.created) {
    if (created.existing.fingerprint !== idempotency?.fingerprint) {
      throw new AppError(
        'IDEMPOTENCY_CONFLICT',
        'This Idempotency-Key was already used with a different request in the last 24 hours.',
      );
    }
    const original = await deps.store.get(created.existing.task_id);
    if (!original)
      throw new AppError('IDEMPOTENCY_CONFLICT', 'The task this Idempotency-Key created no longer exists.');
    return { replayed: true, task: original };
  }
  if (task.status === 'PENDING') {
    try {
      await deps.queue.send(task.queue, taskMessage(task));
    } catch (error) {
      await deps.store.remove(task.task_id, idempotency?.key).catch(() => undefined);
      throw error;
    }
  }
  return { replayed: false, task };
};

/**
 * A task that exists, is within its retention and belongs to `owner`, or
 * TASK_NOT_FOUND: another caller's task is indistinguishable from none.
 */
export const findTask = async (
  deps: Pick<TaskServiceDeps, 'store' | 'clock'>,
  taskId: string,
  owner: string,
): Promise<Task> => {
  const task = await deps.store.get(taskId);
  if (!task || task.owner !== owner || Date.parse(task.expires_at) <= deps.clock.now().getTime()) {
    throw new AppError('TASK_NOT_FOUND', `No task with id ${taskId}.`);
  }
  return task;
};

export interface ResultPolicy {
  inlineLimitBytes: number;
  resultUrlTtlSeconds: number;
}

/** `GET tasks/{id}`: the summary, plus `result` on SUCCESS (inlined or as a link). */
export const taskDetail = async (deps: Pick<TaskServiceDeps, 'blobs' | 'clock'>, task: Task, policy: ResultPolicy) => {
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
  return {
    ...summary,
    result: {
      ...pointer.headline,
      result_url: await deps.blobs.presignGet(pointer.bucket, pointer.key, policy.resultUrlTtlSeconds),
      result_url_expires_at: new Date(deps.clock.now().getTime() + policy.resultUrlTtlSeconds * 1000).toISOString(),
    },
  };
};

export const listTasks = async (deps: Pick<TaskServiceDeps, 'store'>, query: ListQuery) => {
  const page = await deps.store.list(query);
  return {
    tasks: page.tasks.map(taskSummary),
    ...(page.cursor ? { next_token: page.cursor } : {}),
  };
};

export const cancelTask = async (deps: TaskServiceDeps, taskId: string, owner: string): Promise<Task> => {
  const task = await findTask(deps, taskId, owner);
  const now = deps.clock.now().toISOString();
  const revoked = await deps.store.transition(task, 'cancel', {
    finished_at: now,
    lease_expires_at: undefined,
  });
  if (revoked) return revoked;
  const current = (await deps.store.get(taskId)) ?? task;
  throw new AppError(
    'TASK_NOT_CANCELLABLE',
    `Task ${taskId} is ${current.status}; only tasks not yet finished can be cancelled.`,
  );
};

export const retryTask = async (deps: TaskServiceDeps, taskId: string, owner: string): Promise<Task> => {
  const task = await findTask(deps, taskId, owner);
  const retried = await deps.store.transition(
    task,
    'retry',
    {
      attempts: task.attempts + 1,
      progress: 0,
      stage: 'queued',
      error: undefined,
      result: undefined,
      started_at: undefined,
      run_started_at: undefined,
      finished_at: undefined,
      run_id: undefined,
      lease_expires_at: undefined,
    },
    { attempt: task.attempts },
  );
  if (!retried) {
    const current = (await deps.store.get(taskId)) ?? task;
    throw new AppError(
      'TASK_NOT_RETRYABLE',
      `Task ${taskId} is ${current.status}; only FAILURE or REVOKED tasks can be retried.`,
    );
  }
  await deps.queue.send(retried.queue, taskMessage(retried));
  return retried;
};

/**
 * After a restart of the embedded stack, whose queues do not survive it:
 * PENDING tasks are queued again, and STARTED ones, whose runs died with the
 * process, go back to PENDING (their lease no longer counts) and are queued
 * too. Returns how many were queued.
 */
export const recoverUnfinished = async (deps: Pick<TaskServiceDeps, 'store' | 'queue' | 'clock'>): Promise<number> => {
  const before = deps.clock.now().toISOString();
  let queued = 0;
  for (const task of await deps.store.listOlderThan('STARTED', before, 1000)) {
    const requeued = await deps.store.transition(
      task,
      'requeue',
      { stage: 'queued', run_id: undefined, lease_expires_at: undefined },
      task.run_id === undefined ? { attempt: task.attempts } : { runId: task.run_id },
    );
    if (!requeued) continue;
    await deps.queue.send(requeued.queue, taskMessage(requeued));
    queued++;
  }
  for (const task of await deps.store.listOlderThan('PENDING', before, 1000)) {
    await deps.queue.send(task.queue, taskMessage(task));
    queued++;
  }
  return queued;
};
