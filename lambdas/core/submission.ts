import { checkFigureMode } from '../figure-descriptions/policy.js';
import { createHash, randomUUID } from 'node:crypto';
import { PREFIX } from '../../shared/definitions.js';
import { AppError, toTaskError } from '../errors.js';
import type { ProcessingOptions } from '../documents/options.js';
import type { BlobStore, Clock, JobQueue, TaskMetrics, TaskStore } from './ports.js';
import type { KbDestinations } from '../../shared/knowledge-base.js';
import { checkDestination } from '../knowledge-base/destinations.js';
import {
  taskMessage,
  type QueueClass,
  type Task,
  type TaskBatchRef,
  type TaskCallback,
  type TaskInput,
  type TaskSource,
} from './task.js';

/**
 * The one way a task comes to be, for the three routes that create tasks:
 * the direct upload's object, the task row with its idempotency record, the
 * queue message, the metric, and the rollback of each when a later step
 * fails, so that a client never holds the id of a task that nothing will run
 * and no accepted upload is left behind unowned.
 */
export interface SubmissionDeps {
  store: TaskStore;
  blobs: BlobStore;
  queue: JobQueue;
  clock: Clock;
  metrics: TaskMetrics;
  newId: () => string;
}

export interface SubmissionPolicy {
  taskRetentionDays: number;
  largeInputThresholdBytes: number;
  /** Where direct and presigned uploads are kept. */
  bucket: string;
  presignedUrlTtlSeconds: number;
  /** The knowledge-base destinations a task's `destination` may name (none: every one is refused). */
  destinations?: KbDestinations | undefined;
  /** The model that describes figures (`figures=describe`); none: the option is refused. */
  figureModelId?: string | undefined;
}

/** What a caller asks to have processed. */
export type SubmissionRequest =
  /** The bytes themselves (multipart upload): stored under direct/ first. */
  | { kind: 'upload'; bytes: Uint8Array; filename: string; contentType?: string | undefined }
  /** A URL or an s3:// object, already checked by the route. */
  | { kind: 'source'; source: Extract<TaskSource, { type: 'url' | 's3' }>; input: TaskInput; sizeBytes?: number }
  /** A file the caller will PUT to a presigned URL: the task waits for it. */
  | { kind: 'presigned'; filename: string; contentType: string; sizeBytes: number };

export interface Submission {
  request: SubmissionRequest;
  options: ProcessingOptions;
  /** The API key id of the caller. */
  owner: string;
  /** The caller's Idempotency-Key, if any. */
  idempotencyKey?: string | undefined;
  /** Where to send the task's events (`callback_url`), if anywhere. */
  callback?: TaskCallback | undefined;
  /**
   * Why the request cannot run, when it must still become a task (a
   * drop-folder object with invalid metadata has no client to answer): the
   * task is written FAILURE with this error in the same write, never queued,
   * with its `task.failed` event in the outbox for the caller to announce.
   */
  rejection?: AppError | undefined;
}

export interface SubmitOutcome {
  /** True when an earlier request with the same Idempotency-Key made this task. */
  replayed: boolean;
  task: Task;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A stable digest of what a request asked for, to tell a replay from a conflicting reuse of a key. */
export const fingerprint = (...parts: unknown[]): string =>
  createHash('sha256').update(JSON.stringify(parts)).digest('hex');

/** Idempotency keys belong to the client that used them (its API key), never shared across clients. */
export const scopedKey = (key: string, owner: string): string => `${owner}#${key}`;

export const queueFor = (
  sizeBytes: number | undefined,
  policy: Pick<SubmissionPolicy, 'largeInputThresholdBytes'>,
): QueueClass => (sizeBytes !== undefined && sizeBytes > policy.largeInputThresholdBytes ? 'large' : 'standard');

export const newTaskId = (): string => randomUUID();

/** What a task is born with: every route that makes tasks (submissions, batch children) says it here. */
export interface TaskBirth {
  taskId: string;
  status: 'PENDING' | 'AWAITING_UPLOAD';
  source: TaskSource;
  input: TaskInput;
  options: ProcessingOptions;
  queue: QueueClass;
  owner: string;
  now: string;
  expiresAt: string;
  uploadExpiresAt?: string | undefined;
  callback?: TaskCallback | undefined;
  /** A batch child's place in its batch (its row then starts at version 1). */
  batch?: TaskBatchRef | undefined;
  /**
   * Why its input cannot run, when it must still become a task: it is born
   * FAILURE with this error, never queued, with its `task.failed` event in the
   * outbox for the caller to announce.
   */
  rejection?: AppError | undefined;
}

/** The one place a task row is made. */
export const newTask = (birth: TaskBirth): Task => ({
  task_id: birth.taskId,
  status: birth.rejection ? 'FAILURE' : birth.status,
  progress: 0,
  stage: 'queued',
  source: birth.source,
  input: birth.input,
  options: birth.options,
  queue: birth.queue,
  attempts: 1,
  created_at: birth.now,
  updated_at: birth.now,
  expires_at: birth.expiresAt,
  ...(birth.uploadExpiresAt ? { upload_expires_at: birth.uploadExpiresAt } : {}),
  ...(birth.callback ? { callback: birth.callback } : {}),
  ...(birth.rejection
    ? {
        error: toTaskError(birth.rejection),
        finished_at: birth.now,
        rejected: true as const,
        outbox: [{ id: randomUUID(), type: 'task.failed' as const, occurred_at: birth.now }],
      }
    : {}),
  owner: birth.owner,
  ...(birth.batch ? { version: 1, batch: birth.batch } : {}),
});

interface Draft {
  source: TaskSource;
  input: TaskInput;
  sizeBytes?: number | undefined;
  status: 'PENDING' | 'AWAITING_UPLOAD';
  uploadExpiresAt?: string;
  fingerprint: string;
}

const draftOf = (taskId: string, submission: Submission, policy: SubmissionPolicy, now: Date): Draft => {
  const { request, options } = submission;
  switch (request.kind) {
    case 'upload': {
      const declared =
        request.contentType && !/^application\/octet-stream\b/i.test(request.contentType)
          ? request.contentType
          : undefined;
      return {
        source: {
          type: 'upload',
          filename: request.filename,
          size_bytes: request.bytes.length,
          content_type: declared,
        },
        input: { kind: 's3', bucket: policy.bucket, key: `${PREFIX.direct}${taskId}/input` },
        sizeBytes: request.bytes.length,
        status: 'PENDING',
        fingerprint: fingerprint(
          'upload',
          request.filename,
          options,
          createHash('sha256').update(request.bytes).digest('hex'),
        ),
      };
    }
    case 'source':
      return {
        source: request.source,
        input: request.input,
        sizeBytes: request.sizeBytes,
        status: 'PENDING',
        fingerprint: fingerprint('process', request.input, options),
      };
    case 'presigned':
      return {
        source: {
          type: 'presigned',
          filename: request.filename,
          size_bytes: request.sizeBytes,
          content_type: request.contentType,
        },
        input: { kind: 's3', bucket: policy.bucket, key: `${PREFIX.uploads}${taskId}/input` },
        sizeBytes: request.sizeBytes,
        status: 'AWAITING_UPLOAD',
        uploadExpiresAt: new Date(now.getTime() + policy.presignedUrlTtlSeconds * 1000).toISOString(),
        fingerprint: fingerprint('upload-url', request.filename, request.contentType, request.sizeBytes, options),
      };
  }
};

/**
 * Creates the task: stores a direct upload's bytes, writes the row (with its
 * idempotency record) and, for PENDING tasks, queues it. A replay of an
 * Idempotency-Key answers the task it made (and drops the second copy of an
 * upload); any failure removes what was written before it.
 */
export const submit = async (
  deps: SubmissionDeps,
  policy: SubmissionPolicy,
  submission: Submission,
): Promise<SubmitOutcome> => {
  // A destination the caller may not name is the request's fault: a 400 before anything is written.
  if (!submission.rejection) {
    checkDestination(submission.options.destination, submission.owner, policy.destinations ?? {});
    checkFigureMode(submission.options, policy.figureModelId);
  }
  const taskId = deps.newId();
  const now = deps.clock.now();
  const drafted = draftOf(taskId, submission, policy, now);
  // The callback is part of what was asked; without one, the fingerprint is the first version's.
  const draft = submission.callback
    ? { ...drafted, fingerprint: fingerprint(drafted.fingerprint, submission.callback) }
    : drafted;
  const { request } = submission;
  const stored = request.kind === 'upload' && draft.input.kind === 's3' ? draft.input : undefined;
  if (stored && request.kind === 'upload') {
    await deps.blobs.put(stored.bucket, stored.key, request.bytes, request.contentType ?? 'application/octet-stream');
  }
  const dropStored = async () => {
    if (stored) await deps.blobs.delete(stored.bucket, stored.key).catch(() => undefined);
  };
  try {
    const outcome = await createTask(deps, policy, taskId, draft, submission, now);
    if (outcome.replayed) {
      await dropStored();
    } else {
      deps.metrics.submitted(outcome.task.source);
      if (submission.rejection) deps.metrics.failed(submission.rejection.code);
    }
    return outcome;
  } catch (error) {
    await dropStored();
    throw error;
  }
};

const createTask = async (
  deps: SubmissionDeps,
  policy: SubmissionPolicy,
  taskId: string,
  draft: Draft,
  submission: Submission,
  now: Date,
): Promise<SubmitOutcome> => {
  const task = newTask({
    taskId,
    status: draft.status,
    source: draft.source,
    input: draft.input,
    options: submission.options,
    queue: queueFor(draft.sizeBytes, policy),
    owner: submission.owner,
    now: now.toISOString(),
    expiresAt: new Date(now.getTime() + policy.taskRetentionDays * DAY_MS).toISOString(),
    uploadExpiresAt: draft.uploadExpiresAt,
    callback: submission.callback,
    rejection: submission.rejection,
  });
  const idempotency =
    submission.idempotencyKey === undefined
      ? undefined
      : {
          key: scopedKey(submission.idempotencyKey, submission.owner),
          fingerprint: draft.fingerprint,
          task_id: taskId,
        };
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
