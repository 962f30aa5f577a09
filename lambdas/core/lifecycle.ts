import { AppError, toTaskError, type ErrorCode } from '../errors.js';
import type { Stage } from '../documents/progress.js';
import { announce, type Announcements } from './events.js';
import type { Clock, EventSink, JobQueue, TaskChanges, TaskMetrics, TaskStore, TransitionGuard } from './ports.js';
import { findTask } from './task-queries.js';
import {
  isTerminal,
  taskMessage,
  type ResultPointer,
  type PartMessage,
  type Task,
  type TaskMessage,
  type TaskRef,
  type Transition,
} from './task.js';

/**
 * Everything that can happen to a task, each as one guarded transition of
 * TRANSITIONS (task.ts) with what goes with it: the queue message, the metric.
 * Every status change of the service is made here (and at creation, in
 * submission.ts); the Lambdas only decide when.
 */
export interface LifecycleDeps {
  store: TaskStore;
  clock: Clock;
  metrics: TaskMetrics;
  /** Where the changes' events go (core/events.ts). */
  events: EventSink;
  /** Announce beside the work rather than before going on (the worker); awaited once the invocation is done. */
  announcements?: Announcements;
}

export interface QueueingDeps extends LifecycleDeps {
  queue: JobQueue;
}

/**
 * FAILURE, with the one rule for what a failure records: the error, when it
 * finished, the stage it stopped at (when given), and no lease. Counted when
 * this call made the change; a lost race (cancelled, taken over, already
 * final) changes nothing and counts nothing.
 */
export const failTask = async (
  deps: LifecycleDeps,
  task: TaskRef,
  error: AppError,
  options: { guard?: TransitionGuard; stage?: Stage } = {},
): Promise<Task | undefined> => {
  const failed = await change(
    deps,
    task,
    'fail',
    {
      error: toTaskError(error),
      finished_at: deps.clock.now().toISOString(),
      lease_expires_at: undefined,
      ...(options.stage ? { stage: options.stage } : {}),
    },
    options.guard,
  );
  if (failed) deps.metrics.failed(error.code);
  return failed;
};

/**
 * The one place a status changes: the guarded write (with its event, in the
 * same write: see the task store), then the event's announcement.
 */
const change = async (
  deps: LifecycleDeps,
  task: TaskRef,
  transition: Transition,
  changes: TaskChanges,
  guard?: TransitionGuard,
): Promise<Task | undefined> => {
  const changed = await deps.store.transition(task, transition, changes, guard);
  if (changed && deps.announcements) deps.announcements.start(deps, changed);
  else await announce(deps, changed);
  return changed;
};

// --- A run (the worker) ----------------------------------------------------------

export type Claim =
  | { outcome: 'claimed'; task: Task; runId: string }
  /** Nothing to do: no such task, another attempt's message, or already final. */
  | { outcome: 'skipped'; reason: string }
  /** Another run holds a live lease: the message should come back after it ends or expires. */
  | { outcome: 'held' };

/**
 * STARTED under a new run: the run's id and a lease that outlives the
 * function's timeout. A STARTED task is taken over only once its lease ran
 * out (the previous run is gone); an older attempt's message claims nothing.
 */
export const claimTask = async (
  deps: LifecycleDeps,
  message: TaskMessage,
  run: { runId: string; leaseMs: number },
): Promise<Claim> => {
  const task = await deps.store.get(message.task_id);
  if (!task) return { outcome: 'skipped', reason: 'no such task' };
  if (message.attempt !== task.attempts || isTerminal(task.status) || task.status === 'AWAITING_UPLOAD') {
    return { outcome: 'skipped', reason: `the task is ${task.status} on attempt ${task.attempts}` };
  }
  const now = deps.clock.now();
  const claimed = await change(
    deps,
    task,
    'start',
    {
      run_id: run.runId,
      lease_expires_at: new Date(now.getTime() + run.leaseMs).toISOString(),
      started_at: task.started_at ?? now.toISOString(),
      run_started_at: now.toISOString(),
      stage: 'fetching',
      // A run taken over starts again: the parts of the one before are not its own.
      fan_out: undefined,
    },
    { attempt: message.attempt, leaseExpiredBefore: now.toISOString() },
  );
  if (!claimed) {
    const current = await deps.store.get(task.task_id);
    return current?.status === 'STARTED' && current.attempts === message.attempt
      ? { outcome: 'held' }
      : { outcome: 'skipped', reason: `lost the claim: the task is ${current?.status ?? 'gone'}` };
  }
  // The row's last change before the claim is when the task was queued (created, uploaded or retried).
  deps.metrics.started(now.getTime() - Date.parse(task.updated_at));
  return { outcome: 'claimed', task: claimed, runId: run.runId };
};

/**
 * SUCCESS with the stored result, if the run still holds the task (a
 * cancelled one never gets a result); `cached` when the result is a copy
 * from the result cache.
 */
export const completeTask = async (
  deps: LifecycleDeps,
  task: Task,
  runId: string,
  result: ResultPointer,
  { cached = false } = {},
): Promise<Task | undefined> => {
  const now = deps.clock.now();
  const finished = await change(
    deps,
    task,
    'succeed',
    {
      progress: 100,
      stage: 'done',
      finished_at: now.toISOString(),
      lease_expires_at: undefined,
      result,
      ...(cached ? { cached: true as const } : {}),
    },
    { runId },
  );
  if (finished) {
    deps.metrics.succeeded(result.headline, now.getTime() - Date.parse(task.run_started_at ?? task.updated_at));
  }
  return finished;
};

/**
 * What the dead-letter consumer records for a task whose message failed on
 * every delivery: TIME_LIMIT_EXCEEDED when its last run kept its row updated
 * until close to the worker's timeout, WORKER_CRASHED otherwise. Judged from
 * the last run's start (deliveries are a visibility timeout apart).
 */
export const deadLetterCode = (task: Task, workerTimeoutMs: number): 'TIME_LIMIT_EXCEEDED' | 'WORKER_CRASHED' => {
  const runStartedAt = task.run_started_at ?? task.started_at;
  if (task.status === 'STARTED' && runStartedAt) {
    const ranFor = Date.parse(task.updated_at) - Date.parse(runStartedAt);
    if (ranFor >= workerTimeoutMs * 0.8) return 'TIME_LIMIT_EXCEEDED';
  }
  return 'WORKER_CRASHED';
};

const DEAD_LETTER_MESSAGES = {
  TIME_LIMIT_EXCEEDED:
    'The worker was stopped by its time limit on every attempt; try the document on its own or split it.',
  WORKER_CRASHED:
    'The worker failed on every delivery of this task (it may have run out of memory); the cause is in the worker logs.',
};

/** FAILURE for a dead-lettered message's task, if it is still on that attempt and not final. */
export const failDeadLettered = async (
  deps: LifecycleDeps,
  message: TaskMessage,
  workerTimeoutMs: (task: Task) => number,
): Promise<{ task_id: string; code?: ErrorCode; recorded: boolean }> => {
  const task = await deps.store.get(message.task_id);
  if (!task || isTerminal(task.status) || task.attempts !== message.attempt) {
    return { task_id: message.task_id, recorded: false };
  }
  const code = deadLetterCode(task, workerTimeoutMs(task));
  const failed = await failTask(deps, task, new AppError(code, DEAD_LETTER_MESSAGES[code]), {
    guard: { attempt: task.attempts },
  });
  return { task_id: task.task_id, code, recorded: Boolean(failed) };
};

/**
 * FAILURE for a task whose part (of a fanned-out run) failed on every
 * delivery, naming the part's pages; nothing when the run no longer holds
 * the task (cancelled, finished, taken over).
 */
export const failDeadLetteredPart = async (
  deps: LifecycleDeps,
  message: PartMessage,
): Promise<{ task_id: string; code?: ErrorCode; recorded: boolean }> => {
  const task = await deps.store.get(message.task_id);
  if (!task || task.status !== 'STARTED' || task.run_id !== message.run_id || task.attempts !== message.attempt) {
    return { task_id: message.task_id, recorded: false };
  }
  const pages = task.fan_out?.parts[message.part];
  const failed = await failTask(
    deps,
    task,
    new AppError(
      'WORKER_CRASHED',
      `The worker failed on every delivery of ${pages === undefined ? `part ${message.part + 1}` : `pages ${pages}`} (it may have run out of memory or time); the cause is in the page worker's logs.`,
    ),
    { guard: { runId: message.run_id }, stage: 'parsing' },
  );
  return { task_id: task.task_id, code: 'WORKER_CRASHED', recorded: Boolean(failed) };
};

// --- Presigned uploads -------------------------------------------------------------

/** The upload is larger than announced: what S3 accepted is not what the URL was signed for. */
export const uploadSizeProblem = (task: Task, sizeBytes: number): AppError | undefined =>
  task.source.type === 'presigned' && sizeBytes > task.source.size_bytes
    ? new AppError(
        'UPLOAD_SIZE_MISMATCH',
        `The upload is ${sizeBytes} bytes but ${task.source.size_bytes} were announced.`,
      )
    : undefined;

/**
 * AWAITING_UPLOAD → PENDING once the object is there, then queue the task.
 * Safe to repeat (S3 notifications and their retries may deliver the same
 * upload twice): a second call finds the task PENDING and only queues it
 * again, which the worker's claim makes harmless.
 */
export const uploadArrived = async (
  deps: QueueingDeps,
  task: Task,
  sizeBytes: number,
): Promise<'started' | 'failed' | 'queued again' | 'ignored'> => {
  if (task.status === 'AWAITING_UPLOAD') {
    const problem = uploadSizeProblem(task, sizeBytes);
    if (problem) return (await failTask(deps, task, problem)) ? 'failed' : 'ignored';
    const started = await change(deps, task, 'uploadArrived', { stage: 'queued' });
    if (!started) return 'ignored';
    await deps.queue.send(started.queue, taskMessage(started));
    return 'started';
  }
  // A repeat of this event after the status change but before the message went out.
  if (task.status === 'PENDING' && task.attempts === 1) {
    await deps.queue.send(task.queue, taskMessage(task));
    return 'queued again';
  }
  return 'ignored';
};

/** FAILURE / UPLOAD_EXPIRED: the URL expired with no upload. */
export const expireUpload = (deps: LifecycleDeps, task: Task) =>
  failTask(
    deps,
    task,
    new AppError('UPLOAD_EXPIRED', 'The upload URL expired before a file was uploaded; request a new one.'),
  );

/** Queues a PENDING task again (its message may have been lost between the row and the queue). */
export const requeuePending = async (deps: QueueingDeps, task: Task): Promise<void> => {
  await deps.queue.send(task.queue, taskMessage(task));
};

// --- The API's own changes -----------------------------------------------------------

/** REVOKED, if the task is not final yet (counted); undefined when it was (a batch's cancel goes on past it). */
export const revokeTask = async (deps: LifecycleDeps, task: TaskRef): Promise<Task | undefined> => {
  const revoked = await change(deps, task, 'cancel', {
    finished_at: deps.clock.now().toISOString(),
    lease_expires_at: undefined,
  });
  if (revoked) deps.metrics.revoked();
  return revoked;
};

export const cancelTask = async (deps: LifecycleDeps, taskId: string, owner: string): Promise<Task> => {
  const task = await findTask(deps, taskId, owner);
  const revoked = await revokeTask(deps, task);
  if (revoked) return revoked;
  const current = (await deps.store.get(taskId)) ?? task;
  throw new AppError(
    'TASK_NOT_CANCELLABLE',
    `Task ${taskId} is ${current.status}; only tasks not yet finished can be cancelled.`,
  );
};

/**
 * A FAILURE or REVOKED task as a new attempt: everything of the previous run
 * cleared, queued again. Undefined when the task is no longer on that
 * attempt in a final status (retried already, or not final).
 */
export const requeueFinished = async (deps: QueueingDeps, task: Task): Promise<Task | undefined> => {
  if (task.rejected) return undefined;
  const retried = await change(
    deps,
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
      fan_out: undefined,
    },
    { attempt: task.attempts },
  );
  if (retried) await deps.queue.send(retried.queue, taskMessage(retried));
  return retried;
};

export const retryTask = async (deps: QueueingDeps, taskId: string, owner: string): Promise<Task> => {
  const task = await findTask(deps, taskId, owner);
  const retried = await requeueFinished(deps, task);
  if (!retried) {
    const current = (await deps.store.get(taskId)) ?? task;
    throw new AppError(
      'TASK_NOT_RETRYABLE',
      current.rejected
        ? `Task ${taskId} was refused as it was made (${current.error?.message ?? 'its input is invalid'}); write the input again instead.`
        : `Task ${taskId} is ${current.status}; only FAILURE or REVOKED tasks can be retried.`,
    );
  }
  return retried;
};

// --- After a restart of the embedded stack ---------------------------------------------

/**
 * After a restart of the embedded stack, whose queues do not survive it:
 * PENDING tasks are queued again, and STARTED ones, whose runs died with the
 * process, go back to PENDING (their lease no longer counts) and are queued
 * too. Returns how many were queued.
 */
export const recoverUnfinished = async (deps: Pick<QueueingDeps, 'store' | 'queue' | 'clock'>): Promise<number> => {
  const before = deps.clock.now().toISOString();
  let queued = 0;
  for (const task of await deps.store.listOlderThan('STARTED', before, 1000)) {
    // Back to PENDING: not an announced change, so no event to send.
    const requeued = await deps.store.transition(
      task,
      'requeue',
      { stage: 'queued', run_id: undefined, lease_expires_at: undefined, fan_out: undefined },
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
