import { createHash } from 'node:crypto';
import * as z from 'zod';
import { BATCH } from '../../shared/definitions.js';
import type { ProcessingOptions } from '../documents/options.js';
import type { TaskCallback, TaskInput, TaskSource, TaskStatus } from './task.js';

/**
 * A batch: many sources submitted at once, each an ordinary task (progress,
 * cancel, retry, webhooks) carrying the batch's id. The batch itself is a
 * head item (what was asked, how far listing got) and counter items (see
 * BatchStore): its counts are kept by the children's own status changes,
 * never by scanning them.
 */
export const BATCH_STATUSES = ['LISTING', 'RUNNING', 'COMPLETED', 'COMPLETED_WITH_ERRORS', 'REVOKED'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** The statuses a child is counted in (a batch child is never AWAITING_UPLOAD). */
export const COUNTED_STATUSES = ['PENDING', 'STARTED', 'SUCCESS', 'FAILURE', 'REVOKED'] as const;
export type CountedStatus = (typeof COUNTED_STATUSES)[number];
export type BatchCounts = Record<CountedStatus, number>;

export const zeroCounts = (): BatchCounts => ({ PENDING: 0, STARTED: 0, SUCCESS: 0, FAILURE: 0, REVOKED: 0 });

/** Where a batch's children come from. */
export type BatchSource =
  /** Sources given in the request, checked and stored as a list (PREFIX.batches). */
  | { type: 'list'; count: number }
  /** Every object under an S3 prefix, listed page by page. */
  | { type: 'prefix'; uri: string; bucket: string; prefix: string };

/** What a batch was asked to do: written once, at creation. */
export interface BatchRequest {
  batch_id: string;
  owner: string;
  source: BatchSource;
  options: ProcessingOptions;
  callback?: TaskCallback | undefined;
  created_at: string;
  expires_at: string;
}

/** How far creating the children got, and whether the batch was cancelled. */
export interface BatchProgress {
  /** The next page to list (pages before it have all their children). */
  page: number;
  /** Where that page starts: S3's continuation token (prefixes). */
  next_token?: string | undefined;
  /** Children created so far. */
  listed: number;
  /** Every child exists: `listed` is the batch's total. */
  listing_done: boolean;
  revoked_at?: string | undefined;
  /**
   * The cancel or retry sweep under way, if any: one at a time per batch, so
   * that repeated requests cannot queue sweep after sweep (a sweep whose
   * function died is taken over once `since` is older than SWEEP_STALE_MS).
   */
  sweep?: { kind: 'cancel' | 'retry'; since: string } | undefined;
  /** The knowledge-base ingestion job the batch started when it ended (option `destination`), if any. */
  ingestion?: BatchIngestion | undefined;
}

/**
 * One ingestion job of the destination's data source, started once the
 * batch's children have all ended (lambdas/knowledge-base/ingestion.ts).
 * `documents`: how many had succeeded then; a retry of the batch that adds
 * to them starts another.
 */
export interface BatchIngestion {
  destination: string;
  documents: number;
  requested_at: string;
  /** The job's id and state as StartIngestionJob answered; absent while it is being asked, or when it refused. */
  job_id?: string | undefined;
  state: string;
  error?: string | undefined;
}

/** A sweep holds its batch this long without finishing before another may take over (its pages died). */
export const SWEEP_STALE_MS = 15 * 60 * 1000;

export type Batch = BatchRequest & BatchProgress;

/** One listed source as the batch's list keeps it: checked at submission, ready to become a task. */
export interface ListedSource {
  source: Extract<TaskSource, { type: 'url' | 's3' }>;
  input: TaskInput;
  sizeBytes?: number | undefined;
}

/** Which counter item of the batch a child is counted on: its page's, spread by its id. */
export const shardOf = (page: number, taskId: string): number =>
  page * BATCH.shardsPerPage + (createHash('sha256').update(taskId).digest().readUInt32BE(0) % BATCH.shardsPerPage);

/** The counter items of one page. */
export const pageShards = (page: number): number[] =>
  Array.from({ length: BATCH.shardsPerPage }, (_, index) => page * BATCH.shardsPerPage + index);

/** Every counter item a batch whose listing reached `page` may have (the page in progress included). */
export const shardsUpTo = (page: number): number[] =>
  Array.from({ length: (page + 1) * BATCH.shardsPerPage }, (_, index) => index);

/**
 * A child's task id, derived from the batch and what identifies the source
 * in it (the S3 key, or the position in the list): listing the same page
 * again makes the same ids, and the conditional create makes them once.
 * Formatted as a UUID (version 8: application-defined).
 */
export const childTaskId = (batchId: string, sourceKey: string): string => {
  const hex = createHash('sha256').update(`${batchId}\n${sourceKey}`).digest('hex');
  const variant = ((Number.parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
};

/** A child's position in the listing order, as the `by_batch` index sorts it (a string key). */
export const positionKey = (position: number): string => position.toString().padStart(12, '0');

/**
 * How many tasks the batch has: every task is counted on its counter item
 * before its page is recorded, so once listing is done the counts' sum is
 * exactly its tasks (even if a page redone after a failure listed other keys).
 */
export const taskCount = (counts: BatchCounts): number =>
  counts.PENDING + counts.STARTED + counts.SUCCESS + counts.FAILURE + counts.REVOKED;

/** A batch as its routes show it; counts summed over its counter items. */
export const batchStatus = (batch: Batch, counts: BatchCounts): BatchStatus => {
  if (batch.revoked_at) return 'REVOKED';
  if (!batch.listing_done) return 'LISTING';
  // Accepted retries count as running at once, before the sweep has requeued the first of them.
  if (batch.sweep?.kind === 'retry') return 'RUNNING';
  const final = counts.SUCCESS + counts.FAILURE + counts.REVOKED;
  if (final < taskCount(counts)) return 'RUNNING';
  return counts.FAILURE + counts.REVOKED > 0 ? 'COMPLETED_WITH_ERRORS' : 'COMPLETED';
};

export const isFinishedBatch = (status: BatchStatus) => status === 'COMPLETED' || status === 'COMPLETED_WITH_ERRORS';

export interface BatchTally {
  counts: BatchCounts;
  /** The latest time a child became final, over every counter item. */
  lastFinalAt?: string | undefined;
}

export const batchView = (batch: Batch, tally: BatchTally) => {
  const status = batchStatus(batch, tally.counts);
  const final = tally.counts.SUCCESS + tally.counts.FAILURE + tally.counts.REVOKED;
  const settled = batch.listing_done && final === taskCount(tally.counts);
  return {
    batch_id: batch.batch_id,
    status,
    total: batch.listing_done ? taskCount(tally.counts) : batch.source.type === 'list' ? batch.source.count : null,
    listed: batch.listed,
    counts: tally.counts,
    source:
      batch.source.type === 'prefix'
        ? { type: 'prefix', uri: batch.source.uri }
        : { type: 'list', count: batch.source.count },
    options: batch.options,
    created_at: batch.created_at,
    ...(batch.revoked_at ? { revoked_at: batch.revoked_at } : {}),
    ...(batch.ingestion ? { ingestion: batch.ingestion } : {}),
    ...(settled && tally.lastFinalAt && status !== 'RUNNING' ? { finished_at: tally.lastFinalAt } : {}),
    expires_at: batch.expires_at,
  };
};

export type BatchView = ReturnType<typeof batchView>;

/** The batch-jobs queue's message: one page of one batch's work. Versioned, validated by its consumer. */
export const batchJobSchema = z.object({
  v: z.literal(1),
  batch_id: z.uuid(),
  /** Create the children of a page; cancel or retry those of a query page. */
  kind: z.enum(['list', 'cancel', 'retry']),
  page: z.number().int().nonnegative(),
  /** The query position of a cancel or retry sweep (opaque). */
  cursor: z.string().max(4096).optional(),
});
export type BatchJob = z.infer<typeof batchJobSchema>;

export const isCountedStatus = (status: TaskStatus): status is CountedStatus =>
  (COUNTED_STATUSES as readonly string[]).includes(status);
