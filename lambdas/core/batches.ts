import { BATCH, PREFIX } from '../../shared/definitions.js';
import {
  batchView,
  childTaskId,
  isFinishedBatch,
  shardOf,
  SWEEP_STALE_MS,
  type Batch,
  type BatchJob,
  type BatchSource,
  type BatchView,
  type ListedSource,
} from './batch.js';
import { keyProblem } from './drop-folder.js';
import { AppError } from '../errors.js';
import { announce } from './events.js';
import { cleanFilename } from './filenames.js';
import { requeueFinished, revokeTask, type QueueingDeps } from './lifecycle.js';
import type { ProcessingOptions } from '../documents/options.js';
import type { BatchJobQueue, BatchStore, BlobStore, BulkJobQueue } from './ports.js';
import { fingerprint, newTask, queueFor, scopedKey } from './submission.js';
import { isTerminal, taskMessage, type QueueClass, type Task, type TaskCallback, type TaskMessage } from './task.js';
import { taskSummary } from './task-views.js';

/**
 * Batches as the routes and the batch-jobs function run them. Creating a
 * batch writes what was asked and queues its first page; each page creates
 * its children (ordinary tasks with ids derived from the batch and the
 * source, so a page done twice makes each once), queues them ten to a
 * request, records the page and queues the next: a prefix of any size is
 * listed a page per invocation, never against a function's time limit.
 * Cancel and retry walk the children the same way, a query page at a time.
 */
export interface BatchDeps extends QueueingDeps {
  batches: BatchStore;
  blobs: BlobStore;
  queue: BulkJobQueue;
  batchJobs: BatchJobQueue;
}

/** What the batch-jobs function needs to know: where lists are kept, which queue a size belongs on. */
export interface BatchPolicy {
  bucket: string;
  largeInputThresholdBytes: number;
  /** Children per page (BATCH.pageSize; smaller in local tests). */
  pageSize: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The list of a batch of sources, kept beside the batch. */
export const sourcesKey = (batchId: string) => `${PREFIX.batches}${batchId}/sources.json`;

export type BatchSubmission = {
  owner: string;
  options: ProcessingOptions;
  callback?: TaskCallback | undefined;
  /** The caller's Idempotency-Key, if any: a repeat of the same request answers the batch it made. */
  idempotencyKey?: string | undefined;
} & ({ kind: 'list'; sources: ListedSource[] } | { kind: 'prefix'; bucket: string; prefix: string });

const notFound = (batchId: string) => new AppError('BATCH_NOT_FOUND', `No batch with id ${batchId}.`);

/** The batch if it is the caller's and within its retention: another caller's batch is indistinguishable from none. */
export const findBatch = async (
  deps: Pick<BatchDeps, 'batches' | 'clock'>,
  batchId: string,
  owner: string,
): Promise<Batch> => {
  const batch = await deps.batches.get(batchId);
  if (!batch || batch.owner !== owner || Date.parse(batch.expires_at) <= deps.clock.now().getTime()) {
    throw notFound(batchId);
  }
  return batch;
};

export const describeBatch = async (deps: Pick<BatchDeps, 'batches'>, batch: Batch): Promise<BatchView> =>
  batchView(batch, await deps.batches.tally(batch));

/** Writes the batch (and its list) and queues its first page. Nothing is left behind when queueing fails. */
export const createBatch = async (
  deps: Pick<BatchDeps, 'batches' | 'blobs' | 'batchJobs' | 'clock'> & { newId: () => string },
  policy: { bucket: string; taskRetentionDays: number },
  submission: BatchSubmission,
): Promise<BatchView & { replayed: boolean }> => {
  const batchId = deps.newId();
  const now = deps.clock.now();
  const source: BatchSource =
    submission.kind === 'list'
      ? { type: 'list', count: submission.sources.length }
      : {
          type: 'prefix',
          uri: `s3://${submission.bucket}/${submission.prefix}`,
          bucket: submission.bucket,
          prefix: submission.prefix,
        };
  const batch: Batch = {
    batch_id: batchId,
    owner: submission.owner,
    source,
    options: submission.options,
    ...(submission.callback ? { callback: submission.callback } : {}),
    created_at: now.toISOString(),
    expires_at: new Date(now.getTime() + policy.taskRetentionDays * DAY_MS).toISOString(),
    page: 0,
    listed: 0,
    listing_done: false,
  };
  const dropList = async () => {
    if (submission.kind === 'list') await deps.blobs.delete(policy.bucket, sourcesKey(batchId)).catch(() => undefined);
  };
  if (submission.kind === 'list') {
    await deps.blobs.put(policy.bucket, sourcesKey(batchId), JSON.stringify(submission.sources), 'application/json');
  }
  const idempotency =
    submission.idempotencyKey === undefined
      ? undefined
      : {
          // Batches keep their keys apart from tasks': the same key may name a task and a batch.
          key: `batch#${scopedKey(submission.idempotencyKey, submission.owner)}`,
          fingerprint: fingerprint(
            'batch',
            source,
            submission.kind === 'list' ? submission.sources : [],
            submission.options,
            submission.callback ?? null,
          ),
          task_id: batchId,
        };
  let created: Awaited<ReturnType<BatchStore['create']>>;
  try {
    created = await deps.batches.create(batch, idempotency);
  } catch (error) {
    await dropList();
    throw error;
  }
  if (!created.created) {
    await dropList();
    if (created.existing.fingerprint !== idempotency?.fingerprint) {
      throw new AppError(
        'IDEMPOTENCY_CONFLICT',
        'This Idempotency-Key was already used with a different request in the last 24 hours.',
      );
    }
    const original = await deps.batches.get(created.existing.task_id);
    if (!original)
      throw new AppError('IDEMPOTENCY_CONFLICT', 'The batch this Idempotency-Key created no longer exists.');
    return { ...(await describeBatch(deps, original)), replayed: true };
  }
  try {
    await deps.batchJobs.send({ v: 1, batch_id: batchId, kind: 'list', page: 0 });
  } catch (error) {
    await deps.batches.remove(batchId).catch(() => undefined);
    await dropList();
    throw error;
  }
  return {
    ...batchView(batch, { counts: { PENDING: 0, STARTED: 0, SUCCESS: 0, FAILURE: 0, REVOKED: 0 } }),
    replayed: false,
  };
};

/** Cancels every child not yet final (in the background) and stops the listing; a finished batch is refused. */
export const cancelBatch = async (
  deps: Pick<BatchDeps, 'batches' | 'batchJobs' | 'clock'>,
  batchId: string,
  owner: string,
): Promise<BatchView> => {
  const batch = await findBatch(deps, batchId, owner);
  const before = await describeBatch(deps, batch);
  if (isFinishedBatch(before.status)) {
    throw new AppError('BATCH_NOT_CANCELLABLE', `Batch ${batchId} is ${before.status}: every task of it is final.`);
  }
  const now = deps.clock.now();
  const revoked = (await deps.batches.revoke(batchId, now.toISOString())) ?? batch;
  // One cancel sweep at a time: a repeated cancel answers the same without queueing another.
  if (await deps.batches.claimSweep(batchId, 'cancel', now.toISOString(), staleBefore(now))) {
    await deps.batchJobs.send({ v: 1, batch_id: batchId, kind: 'cancel', page: 0 });
  }
  return describeBatch(deps, revoked);
};

const staleBefore = (now: Date) => new Date(now.getTime() - SWEEP_STALE_MS).toISOString();

/** Retries the batch's FAILURE children as new attempts (in the background); how many there were. */
export const retryBatch = async (
  deps: Pick<BatchDeps, 'batches' | 'batchJobs' | 'clock'>,
  batchId: string,
  owner: string,
): Promise<BatchView & { retrying: number }> => {
  const batch = await findBatch(deps, batchId, owner);
  const view = await describeBatch(deps, batch);
  if (batch.revoked_at || view.counts.FAILURE === 0) {
    throw new AppError(
      'BATCH_NOT_RETRYABLE',
      batch.revoked_at
        ? `Batch ${batchId} was cancelled; retry its tasks one by one instead.`
        : `Batch ${batchId} has no failed task to retry.`,
    );
  }
  const now = deps.clock.now();
  if (!(await deps.batches.claimSweep(batchId, 'retry', now.toISOString(), staleBefore(now)))) {
    throw new AppError('BATCH_NOT_RETRYABLE', `A retry of batch ${batchId} is under way; wait for it to end.`);
  }
  await deps.batchJobs.send({ v: 1, batch_id: batchId, kind: 'retry', page: 0 });
  const retrying = await deps.batches.get(batchId);
  return { ...(retrying ? batchView(retrying, { counts: view.counts }) : view), retrying: view.counts.FAILURE };
};

export const listBatchTasks = async (
  deps: Pick<BatchDeps, 'batches' | 'store' | 'clock'>,
  query: { batchId: string; owner: string; status?: Task['status'] | undefined; limit: number; cursor?: string },
) => {
  await findBatch(deps, query.batchId, query.owner);
  const page = await deps.store.listBatch({
    batchId: query.batchId,
    status: query.status,
    limit: query.limit,
    cursor: query.cursor,
  });
  return {
    tasks: page.tasks.map(taskSummary),
    ...(page.cursor ? { next_token: page.cursor } : {}),
  };
};

// --- The batch-jobs function ---------------------------------------------------------

/** Lists one page of a prefix under a continuation token. */
export type ListPrefix = (
  bucket: string,
  prefix: string,
  token: string | undefined,
  pageSize: number,
) => Promise<{ objects: Array<{ key: string; size: number }>; nextToken?: string | undefined }>;

export interface BatchJobDeps extends BatchDeps {
  listPrefix: ListPrefix;
}

/** Seconds before a cancel sweep looks again, for children its first pass could not see yet (index lag). */
export const CANCEL_SECOND_PASS_DELAY_SECONDS = 5;

export const runBatchJob = async (deps: BatchJobDeps, policy: BatchPolicy, job: BatchJob): Promise<string> => {
  const batch = await deps.batches.get(job.batch_id);
  if (!batch) return 'no such batch';
  switch (job.kind) {
    case 'list':
      return listPage(deps, policy, batch, job.page);
    case 'cancel':
      return cancelPage(deps, batch, job);
    case 'retry':
      return retryPage(deps, batch, job);
  }
};

/** One source of a page, as the batch names it (its S3 key, or its position in the list). */
interface PageEntry {
  key: string;
  source: ListedSource;
  /** Why the service will not read it, if it will not: the task is recorded FAILURE as it is made. */
  problem?: AppError | undefined;
}

/** A page's entries: the list's slice, or one ListObjectsV2 page of the prefix. */
const readPage = async (
  deps: BatchJobDeps,
  policy: BatchPolicy,
  batch: Batch,
  page: number,
): Promise<{ entries: PageEntry[]; nextToken?: string | undefined }> => {
  if (batch.source.type === 'list') {
    const stored = await deps.blobs.get(policy.bucket, sourcesKey(batch.batch_id), 64 * 1024 * 1024);
    const sources = JSON.parse(Buffer.from(stored.bytes).toString('utf8')) as ListedSource[];
    const start = page * policy.pageSize;
    const end = start + policy.pageSize;
    return {
      entries: sources.slice(start, end).map((source, index) => ({ key: String(start + index), source })),
      nextToken: end < sources.length ? String(end) : undefined,
    };
  }
  const { bucket, prefix } = batch.source;
  const listing = await deps.listPrefix(bucket, prefix, batch.next_token, policy.pageSize);
  return {
    // "Folders" made by consoles (keys ending in /) hold no document.
    entries: listing.objects
      .filter((object) => !object.key.endsWith('/'))
      .map((object) => ({
        key: object.key,
        source: {
          source: {
            type: 's3',
            uri: `s3://${bucket}/${object.key}`,
            filename: cleanFilename(object.key.split('/').pop()),
            size_bytes: object.size,
          },
          input: { kind: 's3', bucket, key: object.key },
          sizeBytes: object.size,
        },
        // Refused as `process` and the drop folder refuse it; still a task, so that nothing listed vanishes.
        problem: keyProblem(object.key),
      })),
    nextToken: listing.nextToken,
  };
};

const childOf = (
  batch: Batch,
  entry: PageEntry,
  place: { page: number; position: number; now: string },
  policy: BatchPolicy,
): Task => {
  const taskId = childTaskId(batch.batch_id, entry.key);
  const { page, position, now } = place;
  return newTask({
    taskId,
    status: 'PENDING',
    source: entry.source.source,
    input: entry.source.input,
    options: batch.options,
    queue: queueFor(entry.source.sizeBytes, { largeInputThresholdBytes: policy.largeInputThresholdBytes }),
    owner: batch.owner,
    now,
    expiresAt: batch.expires_at,
    callback: batch.callback,
    batch: { id: batch.batch_id, shard: shardOf(page, taskId), position },
    rejection: entry.problem,
  });
};

/** Runs `work` over `items`, `concurrency` at a time. */
const eachLimited = async <T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> => {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
};

const listPage = async (deps: BatchJobDeps, policy: BatchPolicy, batch: Batch, page: number): Promise<string> => {
  if (batch.listing_done) return 'listing already done';
  if (batch.page !== page) {
    // This page was done, and its successor may have been lost with the function that did it: queue it
    // again (a duplicate finds the batch past it and stops here).
    if (batch.page === page + 1)
      await deps.batchJobs.send({ v: 1, batch_id: batch.batch_id, kind: 'list', page: batch.page });
    return `the batch is at page ${batch.page}`;
  }
  if (batch.revoked_at) {
    await deps.batches.advance(batch.batch_id, page, { created: 0, done: true });
    return 'cancelled: listing stopped';
  }
  const { entries, nextToken } = await readPage(deps, policy, batch, page);
  await deps.batches.openPage(batch, page);
  const children = await eachLimited(
    entries.map((entry, index) =>
      childOf(
        batch,
        entry,
        { page, position: page * policy.pageSize + index, now: deps.clock.now().toISOString() },
        policy,
      ),
    ),
    BATCH.createConcurrency,
    async (child) => {
      const { task } = await deps.store.createChild(child);
      await deps.batches.count(task);
      // A refused source's failure goes out like any other (and its event stays in the outbox if it cannot).
      if (task.rejected) await announce(deps, task);
      return task;
    },
  );
  // Cancelled while this page was being made: its children are cancelled here, the sweep may not see them yet.
  const current = await deps.batches.get(batch.batch_id);
  if (current?.revoked_at) {
    await eachLimited(children, BATCH.createConcurrency, (task) => revokeTask(deps, task));
  } else {
    const pending = children.filter((task) => task.status === 'PENDING');
    const byQueue = new Map<QueueClass, TaskMessage[]>();
    for (const task of pending) byQueue.set(task.queue, [...(byQueue.get(task.queue) ?? []), taskMessage(task)]);
    for (const [queue, messages] of byQueue) await deps.queue.sendMany(queue, messages);
  }
  const done = nextToken === undefined || Boolean(current?.revoked_at);
  const advanced = await deps.batches.advance(batch.batch_id, page, { created: entries.length, nextToken, done });
  if (advanced && !done) await deps.batchJobs.send({ v: 1, batch_id: batch.batch_id, kind: 'list', page: page + 1 });
  return `page ${page}: ${entries.length} tasks${done ? ', listing done' : ''}`;
};

const cancelPage = async (deps: BatchJobDeps, batch: Batch, job: BatchJob): Promise<string> => {
  const found = await deps.store.listBatch({ batchId: batch.batch_id, limit: BATCH.sweepPageSize, cursor: job.cursor });
  const open = found.tasks.filter((task) => !isTerminal(task.status));
  await eachLimited(open, BATCH.createConcurrency, (task) => revokeTask(deps, task));
  if (found.cursor) {
    await deps.batchJobs.send({ v: 1, batch_id: batch.batch_id, kind: 'cancel', page: job.page, cursor: found.cursor });
  } else if (job.page === 0) {
    // A second pass a little later: children written just before the cancel may not have been in the index yet.
    await deps.batchJobs.send(
      { v: 1, batch_id: batch.batch_id, kind: 'cancel', page: 1 },
      CANCEL_SECOND_PASS_DELAY_SECONDS,
    );
  } else {
    await deps.batches.releaseSweep(batch.batch_id, 'cancel');
  }
  return `cancelled ${open.length}`;
};

const retryPage = async (deps: BatchJobDeps, batch: Batch, job: BatchJob): Promise<string> => {
  if (batch.revoked_at) {
    await deps.batches.releaseSweep(batch.batch_id, 'retry');
    return 'cancelled: nothing retried';
  }
  const found = await deps.store.listBatch({
    batchId: batch.batch_id,
    status: 'FAILURE',
    limit: BATCH.sweepPageSize,
    cursor: job.cursor,
  });
  const retried = await eachLimited(
    found.tasks.filter((task) => task.status === 'FAILURE'),
    BATCH.createConcurrency,
    (task) => requeueFinished(deps, task),
  );
  const requeued = retried.filter((task): task is Task => task !== undefined);
  // Cancelled while this page was requeueing: the cancel's sweep may have passed these already.
  if ((await deps.batches.get(batch.batch_id))?.revoked_at) {
    await eachLimited(requeued, BATCH.createConcurrency, (task) => revokeTask(deps, task));
    await deps.batches.releaseSweep(batch.batch_id, 'retry');
    return `cancelled while retrying: revoked ${requeued.length}`;
  }
  if (found.cursor) {
    await deps.batchJobs.send({ v: 1, batch_id: batch.batch_id, kind: 'retry', page: job.page, cursor: found.cursor });
  } else {
    await deps.batches.releaseSweep(batch.batch_id, 'retry');
  }
  return `retried ${requeued.length}`;
};
