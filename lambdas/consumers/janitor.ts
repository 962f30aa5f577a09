import { announce } from '../core/events.js';
import { expireUpload, requeuePending, uploadArrived } from '../core/lifecycle.js';
import type { Task } from '../core/task.js';
import { logger, publishMetrics } from '../observability.js';
import { janitorDeps, type JanitorDeps } from './maintenance-deps.js';

/** A PUT that began just before the URL expired may still be running. */
const UPLOAD_GRACE_MS = 5 * 60 * 1000;
const BATCH = 100;
/** Events this old were left by a function that died before sending them (a live one sends within a second). */
const UNSENT_EVENTS_AFTER_MS = 60 * 1000;

export interface JanitorReport {
  uploadsExpired: number;
  uploadsRecovered: number;
  requeued: number;
  /** Events a function left unsent, sent now. */
  eventsSent: number;
  /** Tasks whose handling failed this time (logged); the next sweep tries them again. */
  errors: number;
}

/**
 * Runs on a schedule so that no task waits forever:
 * - AWAITING_UPLOAD past its URL's expiry becomes FAILURE / UPLOAD_EXPIRED,
 *   unless the object is there after all (a lost S3 event), which starts it;
 * - PENDING for longer than `PENDING_REQUEUE_MINUTES` is queued again (its
 *   message may have been lost between the row and the queue); a duplicate
 *   message is harmless;
 * - events still in a task's outbox a minute after their change (the
 *   function that made it died before sending them) are sent.
 */
export const sweep = async (deps: JanitorDeps): Promise<JanitorReport> => {
  const { store, blobs, clock, config } = deps;
  const now = clock.now();
  const report: JanitorReport = { uploadsExpired: 0, uploadsRecovered: 0, requeued: 0, eventsSent: 0, errors: 0 };
  // One task that cannot be handled (a throttled write, an unreadable object) must not stop the sweep.
  const each = async (tasks: Task[], handle: (task: Task) => Promise<void>) => {
    for (const task of tasks) {
      try {
        await handle(task);
      } catch (error) {
        report.errors++;
        logger.error('Janitor could not handle a task', { task_id: task.task_id, error: error as Error });
      }
    }
  };

  await each(await store.listOlderThan('AWAITING_UPLOAD', now.toISOString(), BATCH), async (task) => {
    if (!task.upload_expires_at || Date.parse(task.upload_expires_at) + UPLOAD_GRACE_MS > now.getTime()) return;
    const object = task.input.kind === 's3' ? await blobs.head(task.input.bucket, task.input.key) : undefined;
    if (object) {
      await uploadArrived(deps, task, object.size);
      report.uploadsRecovered++;
    } else if (await expireUpload(deps, task)) {
      report.uploadsExpired++;
    }
  });

  const cutoff = new Date(now.getTime() - config.PENDING_REQUEUE_MINUTES * 60_000).toISOString();
  await each(await store.listOlderThan('PENDING', cutoff, BATCH), async (task) => {
    if (task.updated_at > cutoff) return;
    await requeuePending(deps, task);
    report.requeued++;
  });
  const unsentBefore = new Date(now.getTime() - UNSENT_EVENTS_AFTER_MS).toISOString();
  await each(await store.listWithPendingEvents(unsentBefore, BATCH), async (task) => {
    report.eventsSent += await announce(deps, task);
  });
  if (report.uploadsExpired || report.uploadsRecovered || report.requeued || report.eventsSent || report.errors)
    logger.info('Janitor sweep', { ...report });
  return report;
};

export const makeJanitorHandler = (deps: () => JanitorDeps) => async () => {
  try {
    return await sweep(deps());
  } finally {
    publishMetrics();
  }
};

export const handler = makeJanitorHandler(janitorDeps);
