import type { Batch, BatchCounts, BatchIngestion, BatchJob, BatchTally } from './batch.js';
import type { Delivery, DeliveryAttempt, DeliveryJob, DeliveryStatus } from './delivery.js';
import type { ResultHeadline } from '../documents/document.js';
import type { ErrorCode } from '../errors.js';
import type {
  PartMessage,
  QueueClass,
  Task,
  TaskEvent,
  TaskFanOut,
  TaskMessage,
  TaskRef,
  TaskSource,
  TaskStatus,
  Transition,
} from './task.js';
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
    | 'cached'
    | 'run_id'
    | 'lease_expires_at'
    | 'updated_at'
    | 'fan_out'
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
  /** The run reads its document in parts: records the plan, and the lease its parts keep; false when the run no longer holds the task. */
  startFanOut(taskId: string, runId: string, fanOut: TaskFanOut, leaseExpiresAt: string): Promise<boolean>;
  /**
   * Records part `part` as read (recognising `ocrPages` pages) and extends
   * the run's lease, unless it was recorded already: the row after the
   * write, or undefined when nothing was written (recorded before, or the
   * run no longer holds the task).
   */
  recordPart(
    taskId: string,
    runId: string,
    part: number,
    ocrPages: number,
    leaseExpiresAt: string,
  ): Promise<Task | undefined>;
  list(query: ListQuery): Promise<TaskPage>;
  /** Tasks in `status` created before `before`, oldest first (for the janitor). */
  listOlderThan(status: TaskStatus, before: string, limit: number): Promise<Task[]>;
  /** Removes a row that never got queued (submission rollback). */
  remove(taskId: string, idempotencyKey?: string): Promise<void>;
  /** Takes sent events off the front of the task's outbox, if they are still there, oldest first. */
  acknowledgeEvents(taskId: string, eventIds: readonly string[]): Promise<void>;
  /** Tasks with an event unsent since before `before`, oldest first (the janitor's sweep). */
  listWithPendingEvents(before: string, limit: number): Promise<Task[]>;
  /** Creates a batch child unless its row exists: returns the row that is there now (this one, or the earlier). */
  createChild(task: Task): Promise<{ created: boolean; task: Task }>;
  /** A batch's children in listing order, optionally in one status (a filter: a page may hold fewer than `limit`). */
  listBatch(query: BatchListQuery): Promise<TaskPage>;
}

export interface BatchListQuery {
  batchId: string;
  status?: TaskStatus | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** What creating one listing page of a batch did. */
export interface ListingStep {
  created: number;
  /** Where the next page starts (S3's continuation token), if there is one. */
  nextToken?: string | undefined;
  /** This page was the last. */
  done: boolean;
}

/** Batch heads and their counter items (see core/batch.ts). */
export interface BatchStore {
  /** Writes the batch; with `idempotency`, only if no live record of that key made one (then: the record). */
  create(
    batch: Batch,
    idempotency?: IdempotencyRecord,
  ): Promise<{ created: true } | { created: false; existing: IdempotencyRecord }>;
  get(batchId: string): Promise<Batch | undefined>;
  /** Opens the counter items of a listing page before its children exist. */
  openPage(batch: Batch, page: number): Promise<void>;
  /** Counts a batch child in the status its row has, unless a later version of the row was counted. */
  count(task: Task): Promise<void>;
  /** The counts over every counter item. */
  tally(batch: Batch): Promise<BatchTally>;
  /** Records that `page` was listed; false when the batch is no longer at that page (a repeated message). */
  advance(batchId: string, page: number, step: ListingStep): Promise<boolean>;
  /** Marks the batch cancelled (once); the batch as it is after. */
  revoke(batchId: string, at: string): Promise<Batch | undefined>;
  /** Takes the batch's one sweep (see Batch.sweep); false when another holds it and is not stale. */
  claimSweep(batchId: string, kind: 'cancel' | 'retry', at: string, staleBefore: string): Promise<boolean>;
  /** Ends the sweep of that kind, if it still holds the batch. */
  releaseSweep(batchId: string, kind: 'cancel' | 'retry'): Promise<void>;
  /** Removes a batch whose first page could not be queued (its creation's rollback). */
  remove(batchId: string): Promise<void>;
  /**
   * Takes the batch's ingestion for `ingestion.documents` succeeded children:
   * false when one was already taken for as many or more (another child's run
   * saw the batch end too).
   */
  claimIngestion(batchId: string, ingestion: BatchIngestion): Promise<boolean>;
  /** Records what the start of the claimed ingestion answered. */
  recordIngestion(batchId: string, ingestion: BatchIngestion): Promise<void>;
  /** The counts of the counter item a child is counted on (one read: is its part of the batch settled?). */
  shardCounts(task: Task): Promise<BatchCounts | undefined>;
}

/** The batch-jobs queue: a batch's pages of work, each its own message. */
export interface BatchJobQueue {
  send(job: BatchJob, delaySeconds?: number): Promise<void>;
}

export interface StoredObject {
  bytes: Uint8Array;
  contentType?: string | undefined;
}

/** What a HEAD of an object tells. */
export interface ObjectHead {
  size: number;
  contentType?: string | undefined;
  /** User metadata (`x-amz-meta-*`), by name without that prefix, lower-cased. */
  metadata?: Record<string, string> | undefined;
}

export interface BlobStore {
  put(bucket: string, key: string, body: Uint8Array | string, contentType: string): Promise<void>;
  get(bucket: string, key: string, maxBytes: number): Promise<StoredObject>;
  head(bucket: string, key: string): Promise<ObjectHead | undefined>;
  presignPut(
    bucket: string,
    key: string,
    options: { contentType: string; contentLength: number; expiresIn: number },
  ): Promise<string>;
  presignGet(bucket: string, key: string, expiresIn: number): Promise<string>;
  delete(bucket: string, key: string): Promise<void>;
  /** A server-side copy within the bucket; false, copying nothing, when the source is not there (any more). */
  copy(bucket: string, fromKey: string, toKey: string): Promise<boolean>;
}

export interface JobQueue {
  send(queue: QueueClass, message: TaskMessage): Promise<void>;
}

/** The pages queue: the parts of fanned-out runs. */
export interface PartQueue {
  /** Throws when any was refused (sending them again is harmless: a part is recorded once). */
  sendParts(messages: readonly PartMessage[]): Promise<void>;
}

/** A queue that also takes many messages, ten to a request (a batch's pages). */
export interface BulkJobQueue extends JobQueue {
  /** Throws when any was refused (sending them all again is harmless: the worker's claim de-duplicates). */
  sendMany(queue: QueueClass, messages: readonly TaskMessage[]): Promise<void>;
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
  /** An event could not be sent at once; it stays in the outbox for the sweep. */
  eventUnsent(event: TaskEvent, error: unknown): void;
  /** A run looked its result up in the result cache (not counted when the cache is off or `no_cache` skips it). */
  resultCache(outcome: 'hit' | 'miss'): void;
}

/**
 * Where a task's events go: the event bus, and the webhook-deliveries queue
 * when the task's callback subscribed to the event. Throws when a send
 * failed; the event stays in the outbox.
 */
export interface EventSink {
  send(task: Task, event: TaskEvent): Promise<void>;
}

/** Which delivery of which task. */
export type DeliveryRef = Pick<Delivery, 'task_id' | 'delivery_id'>;

/**
 * The webhook delivery log. Attempts are appended, never rewritten; an
 * attempt of the retry schedule is recorded only if no later one was (a
 * duplicate message's attempt is superseded).
 */
export interface DeliveryStore {
  get(ref: DeliveryRef): Promise<Delivery | undefined>;
  /** The delivery, created as given when the log has none for its event yet. */
  open(delivery: Delivery): Promise<Delivery>;
  /** Every delivery of a task, oldest first. */
  list(taskId: string): Promise<Delivery[]>;
  /**
   * Attempt `position` of the schedule (0 for the first) and where it leaves
   * the delivery; false, recording nothing, when the delivery is no longer
   * pending or a later attempt was recorded.
   */
  recordScheduled(
    ref: DeliveryRef,
    position: number,
    attempt: DeliveryAttempt,
    outcome: { status: DeliveryStatus; nextAttemptAt?: string | undefined },
  ): Promise<boolean>;
  /** A redelivery's attempt; a 2xx makes the delivery `delivered`, a failure leaves its status. */
  recordRedelivery(ref: DeliveryRef, attempt: DeliveryAttempt, delivered: boolean): Promise<void>;
}

/** The webhook-deliveries queue. */
export interface DeliveryQueue {
  send(job: DeliveryJob, delaySeconds: number): Promise<void>;
}

/** How one POST to a callback URL went: the answer's status, or why there was none. Never throws for either. */
export type PostOutcome = { status_code: number; duration_ms: number } | { error: string; duration_ms: number };

/** Sends a webhook: the URL checked against the address policy on every call (DNS can change). */
export type PostWebhook = (
  url: string,
  request: { headers: Record<string, string>; body: string },
) => Promise<PostOutcome>;

/** The keys webhooks are signed with now (several while a secret is rotated). */
export type SigningKeys = () => Promise<readonly Uint8Array[]>;

/** What the webhook consumer counts (CloudWatch metrics on AWS). */
export interface DeliveryMetrics {
  delivered(): void;
  failed(): void;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
