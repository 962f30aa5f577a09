import type { ResultHeadline } from './document.js';
import type { ErrorCode } from './errors.js';
import type { QueueClass, Task, TaskMessage, TaskRef, TaskSource, TaskStatus, Transition } from './task.js';
import type { UrlPolicy } from './url-policy.js';

/** Fields a transition may set besides the status. */
export type TaskChanges = Partial<
  Pick<
    Task,
    | 'progress'
    | 'stage'
    | 'attempts'
    | 'started_at'
    | 'run_started_at'
    | 'finished_at'
    | 'error'
    | 'result'
    | 'run_id'
    | 'lease_expires_at'
    | 'updated_at'
  >
>;

export interface TransitionGuard {
  /** Only if the task is still on this attempt (workers, DLQ consumer). */
  attempt?: number;
  /** Only if this run still holds the task. */
  runId?: string;
  /** STARTED may only be taken over from a run whose lease ran out before this time. */
  leaseExpiredBefore?: string;
}

export interface IdempotencyRecord {
  key: string;
  fingerprint: string;
  task_id: string;
}

export interface ListQuery {
  /** Only this caller's tasks. */
  owner: string;
  status?: TaskStatus | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface TaskPage {
  tasks: Task[];
  cursor?: string | undefined;
}

/**
 * Task rows. Every status change goes through `transition`, which fails with
 * `undefined` (never throws) when the row is not in a state the transition
 * allows: the caller decides what a lost race means.
 */
export interface TaskStore {
  /** Creates the row; with `idempotency`, atomically with the key's record. Returns the existing record on a key clash. */
  create(
    task: Task,
    idempotency?: IdempotencyRecord,
  ): Promise<{ created: true } | { created: false; existing: IdempotencyRecord }>;
  get(taskId: string): Promise<Task | undefined>;
  transition(
    task: TaskRef,
    transition: Transition,
    changes: TaskChanges,
    guard?: TransitionGuard,
  ): Promise<Task | undefined>;
  /** Progress within a run: never lower than what is stored, only while the run holds the task. */
  updateProgress(taskId: string, runId: string, progress: number, stage: Task['stage']): Promise<boolean>;
  list(query: ListQuery): Promise<TaskPage>;
  /** Tasks in `status` created before `before`, oldest first (for the janitor). */
  listOlderThan(status: TaskStatus, before: string, limit: number): Promise<Task[]>;
  /** Removes a row that never got queued (submission rollback). */
  remove(taskId: string, idempotencyKey?: string): Promise<void>;
}

export interface StoredObject {
  bytes: Uint8Array;
  contentType?: string | undefined;
}

export interface BlobStore {
  put(bucket: string, key: string, body: Uint8Array | string, contentType: string): Promise<void>;
  get(bucket: string, key: string, maxBytes: number): Promise<StoredObject>;
  head(bucket: string, key: string): Promise<{ size: number; contentType?: string | undefined } | undefined>;
  presignPut(
    bucket: string,
    key: string,
    options: { contentType: string; contentLength: number; expiresIn: number },
  ): Promise<string>;
  presignGet(bucket: string, key: string, expiresIn: number): Promise<string>;
  delete(bucket: string, key: string): Promise<void>;
}

export interface JobQueue {
  send(queue: QueueClass, message: TaskMessage): Promise<void>;
}

export interface SourceFetchLimits extends UrlPolicy {
  maxBytes: number;
  /** Whole fetch, redirects included. */
  timeoutMs: number;
  /** Until the TCP (and TLS) connection is up. */
  connectTimeoutMs: number;
  maxRedirects: number;
}

export interface FetchedSource {
  bytes: Uint8Array;
  contentType?: string | undefined;
  finalUrl: string;
}

/** Reads a URL source within the limits and the address policy; fails with typed errors (SOURCE_*). */
export type FetchSource = (url: string, limits: SourceFetchLimits) => Promise<FetchedSource>;

/**
 * What the service counts as tasks change (CloudWatch metrics on AWS, see
 * observability.ts): counted where the change happens, in lifecycle.ts and
 * submission.ts, and only when this call made it.
 */
export interface TaskMetrics {
  submitted(source: TaskSource): void;
  /** A run claimed the task, `queuedForMs` after it was queued. */
  started(queuedForMs: number): void;
  succeeded(result: ResultHeadline, durationMs: number): void;
  failed(code: ErrorCode): void;
  revoked(): void;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
