import { createHash } from 'node:crypto';
import type { KbDestinations } from '../../shared/knowledge-base.js';
import { batchStatus, isFinishedBatch, type BatchIngestion } from '../core/batch.js';
import type { BatchStore, Clock, TaskStore } from '../core/ports.js';
import { isTerminal, type Task } from '../core/task.js';
import { destinationOf } from './destinations.js';

/** Starts a sync of a knowledge base's data source (Bedrock's StartIngestionJob). */
export interface KnowledgeBaseIngestion {
  start(request: {
    knowledgeBaseId: string;
    dataSourceId: string;
    /** Makes a repeated start of the same sync one job (33 to 256 characters). */
    clientToken: string;
    description: string;
  }): Promise<{ jobId: string; status: string }>;
}

export interface IngestionDeps {
  store: Pick<TaskStore, 'get'>;
  batches: Pick<BatchStore, 'count' | 'shardCounts' | 'get' | 'tally' | 'claimIngestion' | 'recordIngestion'>;
  ingestion: KnowledgeBaseIngestion;
  clock: Clock;
  destinations: KbDestinations;
  log: (message: string, detail: Record<string, unknown>) => void;
}

/** What StartIngestionJob's refusal says, for the batch's record. */
const reasonOf = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 500) : String(error).slice(0, 500);

/**
 * Once a batch child that names a destination with a knowledge base and
 * data source has ended, starts one ingestion job of that data source if the
 * batch has ended with it: every child's document is then in place. The run
 * that ended last sees the batch ended (its own child is counted first, and
 * counting is idempotent); the claim on the batch's head makes one start of
 * several that see it. A child whose own counter item still has children
 * running reads nothing more. A retry of the batch that adds succeeded documents
 * starts another. Never fails the task: a refusal (a sync already running on
 * the data source, missing permissions) is recorded on the batch.
 */
export const ingestIfBatchEnded = async (deps: IngestionDeps, task: Task): Promise<BatchIngestion | undefined> => {
  if (!task.batch) return undefined;
  const named = destinationOf(task.options.destination, task.owner, deps.destinations);
  const { knowledgeBaseId, dataSourceId } = named?.destination ?? {};
  if (!named || !knowledgeBaseId || !dataSourceId) return undefined;
  const row = await deps.store.get(task.task_id);
  if (!row || !isTerminal(row.status)) return undefined;
  await deps.batches.count(row);
  // One read first: while this child's counter item still has children running, the batch has not ended
  // (only the children of its last counter items read the whole batch's counts).
  const shard = await deps.batches.shardCounts(row);
  if (shard && shard.PENDING + shard.STARTED > 0) return undefined;
  const batch = await deps.batches.get(task.batch.id);
  if (!batch) return undefined;
  const { counts } = await deps.batches.tally(batch);
  if (!isFinishedBatch(batchStatus(batch, counts)) || counts.SUCCESS === 0) return undefined;
  const claim: BatchIngestion = {
    destination: `kb:${named.name}`,
    documents: counts.SUCCESS,
    requested_at: deps.clock.now().toISOString(),
    state: 'REQUESTED',
  };
  if (!(await deps.batches.claimIngestion(batch.batch_id, claim))) return undefined;
  let recorded: BatchIngestion;
  try {
    const job = await deps.ingestion.start({
      knowledgeBaseId,
      dataSourceId,
      clientToken: createHash('sha256').update(`${batch.batch_id}\n${counts.SUCCESS}`).digest('hex'),
      description: `docproc batch ${batch.batch_id}: ${counts.SUCCESS} documents`,
    });
    recorded = { ...claim, job_id: job.jobId, state: job.status };
    deps.log('Ingestion job started', { batch_id: batch.batch_id, job_id: job.jobId, documents: counts.SUCCESS });
  } catch (error) {
    recorded = { ...claim, state: 'NOT_STARTED', error: reasonOf(error) };
    deps.log('Ingestion job not started', { batch_id: batch.batch_id, error: recorded.error });
  }
  await deps.batches.recordIngestion(batch.batch_id, recorded);
  return recorded;
};
