import * as z from 'zod';
import type { ResultHeadline } from '../documents/document.js';
import type { TaskErrorBody } from '../errors.js';
import type { ProcessingOptions } from '../documents/options.js';
import type { Stage } from '../documents/progress.js';

export const TASK_STATUSES = ['AWAITING_UPLOAD', 'PENDING', 'STARTED', 'SUCCESS', 'FAILURE', 'REVOKED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);
export const isTerminal = (status: TaskStatus): boolean => TERMINAL_STATUSES.has(status);

/**
 * Every status change the service makes, and the statuses it may start from.
 * The task store enforces these with conditional writes, so a change that is
 * not listed here cannot happen, however requests and workers interleave.
 */
export const TRANSITIONS = {
  /** S3 says the presigned upload landed. */
  uploadArrived: { from: ['AWAITING_UPLOAD'], to: 'PENDING' },
  /** A worker claims the task (STARTED again: a redelivery after a crashed run). */
  start: { from: ['PENDING', 'STARTED'], to: 'STARTED' },
  succeed: { from: ['STARTED'], to: 'SUCCESS' },
  /** A worker, the DLQ consumer or the janitor records a failure. */
  fail: { from: ['AWAITING_UPLOAD', 'PENDING', 'STARTED'], to: 'FAILURE' },
  cancel: { from: ['AWAITING_UPLOAD', 'PENDING', 'STARTED'], to: 'REVOKED' },
  retry: { from: ['FAILURE', 'REVOKED'], to: 'PENDING' },
  /** A run known to be gone (the embedded stack restarted under it) gives the task back to the queue. */
  requeue: { from: ['STARTED'], to: 'PENDING' },
} as const satisfies Record<string, { from: readonly TaskStatus[]; to: TaskStatus }>;

export type Transition = keyof typeof TRANSITIONS;

export const canTransition = (from: TaskStatus, transition: Transition): boolean =>
  (TRANSITIONS[transition].from as readonly TaskStatus[]).includes(from);

export const TASK_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type QueueClass = 'standard' | 'large';

/** The owner of tasks created without an API key (`apiAuth: none`). */
export const ANONYMOUS_OWNER = 'anonymous';

/**
 * What identifies a task row to the store: its id, its owner for the listing
 * index, and its batch (a batch child's every change is announced, so that
 * the batch's counts follow it).
 */
export type TaskRef = Pick<Task, 'task_id' | 'owner'> & Partial<Pick<Task, 'batch'>>;

/** A batch child's place in its batch (see core/batch.ts). */
export interface TaskBatchRef {
  id: string;
  /** The counter item it is counted on. */
  shard: number;
  /** Its position in the listing order. */
  position: number;
}

export type TaskSource =
  | { type: 'upload'; filename: string; size_bytes: number; content_type?: string | undefined }
  | { type: 'presigned'; filename: string; size_bytes: number; content_type?: string | undefined }
  | { type: 'url'; url: string; filename: string }
  | { type: 's3'; uri: string; filename: string; size_bytes?: number | undefined };

/** Where the worker reads the bytes from. */
export type TaskInput = { kind: 's3'; bucket: string; key: string } | { kind: 'url'; url: string };

export interface ResultPointer {
  bucket: string;
  key: string;
  /** Size of the full result JSON, to decide between inlining and a link. */
  json_bytes: number;
  /** The result without its documents, so a large result is described without reading it. */
  headline: ResultHeadline;
  /** Where the document was also written (option `destination`), before the task became SUCCESS. */
  delivered?: ResultDelivery | undefined;
}

/** A document and its metadata sidecar under a knowledge-base destination (lambdas/knowledge-base/). */
export interface ResultDelivery {
  destination: string;
  bucket: string;
  document_key: string;
  sidecar_key: string;
}

/** What the service announces about a task (see core/events.ts). */
export const WEBHOOK_EVENT_TYPES = ['task.started', 'task.succeeded', 'task.failed', 'task.revoked'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * A batch child back to PENDING (retried, or requeued after a restart): not
 * announced to anyone, but counted by its batch through the same outbox.
 */
export const QUEUED_EVENT = 'task.queued';
export type OutboxEventType = WebhookEventType | typeof QUEUED_EVENT;

/** Where a task's events go (`callback_url`), and which of them. */
export interface TaskCallback {
  url: string;
  events: WebhookEventType[];
}

/**
 * One announcement, as the outbox in the task row keeps it until it is sent:
 * written in the same conditional update as the status change, so an event
 * exists exactly when its change happened, and survives a function that dies
 * before sending it.
 */
export interface TaskEvent {
  /** A UUID, stable through every send of the event (the webhook's `webhook-id` derives from it). */
  id: string;
  type: OutboxEventType;
  occurred_at: string;
}

/**
 * A run reading its document in parts (documents/fan-out.ts): the parts'
 * pages, which are done, and where the parts read the input from. Written
 * by the run that planned it; each part is recorded once, whatever its
 * message's deliveries; the part that records the last assembles the result.
 */
export interface TaskFanOut {
  /** Each part's pages ("17-24"), in page order. */
  parts: string[];
  /** Pages to recognise in each part. */
  ocr_pages: number[];
  /** Parts read so far, by `partKey`: the pages each recognised. */
  done: Record<string, number>;
  /** The input the parts read: the task's own object, or a copy of a URL's bytes under the task's results. */
  input: { bucket: string; key: string; content_type?: string | undefined };
  /** The whole document's key in the result cache, when the cache is on. */
  cache_key?: string | undefined;
}

/** Where part `index` is recorded in `TaskFanOut.done`. */
export const partKey = (index: number): string => `p${index}`;

/** A task row as the store keeps it. */
export interface Task {
  task_id: string;
  status: TaskStatus;
  progress: number;
  stage: Stage;
  source: TaskSource;
  input: TaskInput;
  options: ProcessingOptions;
  queue: QueueClass;
  /** 1 for the first run; each `retry` adds one. */
  attempts: number;
  created_at: string;
  updated_at: string;
  /** When the first run started. */
  started_at?: string | undefined;
  /** When the latest run started (each delivery's claim): how long the last run lasted is judged from it. */
  run_started_at?: string | undefined;
  finished_at?: string | undefined;
  expires_at: string;
  /** Presigned uploads: when the URL stops working. */
  upload_expires_at?: string | undefined;
  error?: TaskErrorBody | undefined;
  result?: ResultPointer | undefined;
  /** The result is a copy of an earlier task's, reused from the result cache instead of parsing (core/result-cache.ts). */
  cached?: true | undefined;
  /** The worker run that holds the task while STARTED, and until when. */
  run_id?: string | undefined;
  lease_expires_at?: string | undefined;
  callback?: TaskCallback | undefined;
  /** Events written with their status change and not yet sent (oldest first). */
  outbox?: TaskEvent[] | undefined;
  /** How many status changes the row has had (1 when created): which of two views of it is the later. */
  version?: number | undefined;
  /** The batch it belongs to, if any. */
  batch?: TaskBatchRef | undefined;
  /** While its run reads it in parts (and after, for the record). */
  fan_out?: TaskFanOut | undefined;
  /**
   * Recorded FAILURE when it was made, never run: its input itself is refused
   * (invalid object metadata, a key the service does not read). A retry could
   * only run it as it is, so it is refused; the input must be written again.
   */
  rejected?: true | undefined;
  /**
   * The caller (API key id) that created it: only that caller sees, cancels
   * or retries it. `anonymous` when the API takes no keys.
   */
  owner: string;
}

/** The body of a queue message: versioned, validated by every consumer. */
export const taskMessageSchema = z.object({
  v: z.literal(1),
  task_id: z.uuid(),
  attempt: z.number().int().positive(),
});
export type TaskMessage = z.infer<typeof taskMessageSchema>;

export const taskMessage = (task: Pick<Task, 'task_id' | 'attempts'>): TaskMessage => ({
  v: 1,
  task_id: task.task_id,
  attempt: task.attempts,
});

/** A part of a fanned-out run (the pages queue): which task, attempt, run and part. */
export const partMessageSchema = z.object({
  v: z.literal(1),
  kind: z.literal('part'),
  task_id: z.uuid(),
  attempt: z.number().int().positive(),
  run_id: z.string().min(1).max(64),
  part: z.number().int().nonnegative(),
});
export type PartMessage = z.infer<typeof partMessageSchema>;
