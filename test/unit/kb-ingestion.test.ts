import { describe, expect, it } from 'vitest';
import { zeroCounts, type Batch, type BatchCounts, type BatchIngestion } from '../../lambdas/core/batch.js';
import type { Task } from '../../lambdas/core/task.js';
import { ingestIfBatchEnded, type IngestionDeps } from '../../lambdas/knowledge-base/ingestion.js';

const BATCH_ID = '2d1f5c7a-8b9e-4f0a-9c3d-1e2f3a4b5c6d';
const DESTINATIONS = {
  docs: { bucket: 'kb-docs', prefix: '', keys: ['*'], knowledgeBaseId: 'KB12345678', dataSourceId: 'DS12345678' },
  plain: { bucket: 'kb-docs', prefix: 'plain/', keys: ['*'] },
};

const child = (status: Task['status'], destination = 'kb:docs'): Task =>
  ({
    task_id: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
    status,
    owner: 'key-a',
    options: { split: false, chunk_size: 1000, chunk_overlap: 200, destination },
    batch: { id: BATCH_ID, shard: 0, position: 0 },
  }) as Task;

/** A batch whose counts are given; the claim and the record behave as the DynamoDB store's conditions do. */
const fakes = (counts: Partial<BatchCounts>, { refuse = false, shard = counts } = {}) => {
  const batch = { batch_id: BATCH_ID, listing_done: true } as Batch;
  let ingestion: BatchIngestion | undefined;
  const starts: unknown[] = [];
  const counted: string[] = [];
  let tallies = 0;
  const deps: IngestionDeps = {
    store: { get: async (taskId) => ({ ...child('SUCCESS'), task_id: taskId }) },
    batches: {
      count: async (task) => {
        counted.push(task.status);
      },
      shardCounts: async () => ({ ...zeroCounts(), ...shard }),
      get: async () => ({ ...batch, ingestion }),
      tally: async () => {
        tallies++;
        return { counts: { ...zeroCounts(), ...counts } };
      },
      claimIngestion: async (_id, claim) => {
        if (ingestion && ingestion.documents >= claim.documents) return false;
        ingestion = claim;
        return true;
      },
      recordIngestion: async (_id, record) => {
        if (ingestion?.requested_at === record.requested_at) ingestion = record;
      },
    },
    ingestion: {
      start: async (request) => {
        starts.push(request);
        if (refuse)
          throw Object.assign(new Error('An ingestion job is already running'), { name: 'ConflictException' });
        return { jobId: 'JOB0000001', status: 'STARTING' };
      },
    },
    clock: { now: () => new Date('2026-12-07T12:00:00Z') },
    destinations: DESTINATIONS,
    log: () => undefined,
  };
  return { deps, starts, counted, ingestion: () => ingestion, tallies: () => tallies };
};

describe('knowledge-base ingestion of a batch', () => {
  it('starts one ingestion job of the destination once every child has ended, and records it on the batch', async () => {
    const { deps, starts, counted, ingestion } = fakes({ SUCCESS: 3, FAILURE: 1 });
    const started = await ingestIfBatchEnded(deps, child('SUCCESS'));
    expect(counted).toEqual(['SUCCESS']);
    expect(starts).toEqual([
      expect.objectContaining({
        knowledgeBaseId: 'KB12345678',
        dataSourceId: 'DS12345678',
        description: expect.stringContaining('3 documents'),
      }),
    ]);
    expect((starts[0] as { clientToken: string }).clientToken).toMatch(/^[0-9a-f]{64}$/);
    expect(started).toEqual({
      destination: 'kb:docs',
      documents: 3,
      requested_at: '2026-12-07T12:00:00.000Z',
      job_id: 'JOB0000001',
      state: 'STARTING',
    });
    expect(ingestion()).toEqual(started);
    // Another child's run that also saw the batch end starts nothing more.
    expect(await ingestIfBatchEnded(deps, child('FAILURE'))).toBeUndefined();
    expect(starts).toHaveLength(1);
  });

  it('starts nothing while children are still running, when none succeeded, or without a knowledge base', async () => {
    for (const [counts, task] of [
      [{ SUCCESS: 2, STARTED: 1 }, child('SUCCESS')],
      [{ FAILURE: 2 }, child('FAILURE')],
      [{ SUCCESS: 2 }, child('SUCCESS', 'kb:plain')],
      [{ SUCCESS: 2 }, { ...child('SUCCESS'), batch: undefined }],
    ] as const) {
      const { deps, starts } = fakes(counts);
      expect(await ingestIfBatchEnded(deps, task as Task)).toBeUndefined();
      expect(starts).toEqual([]);
    }
  });

  it("reads no more than its own counter item while that item's children are still running", async () => {
    const { deps, starts, tallies } = fakes({ SUCCESS: 2, STARTED: 1 }, { shard: { SUCCESS: 1, PENDING: 1 } });
    expect(await ingestIfBatchEnded(deps, child('SUCCESS'))).toBeUndefined();
    expect(tallies()).toBe(0);
    expect(starts).toEqual([]);
  });

  it('starts another when a retry of the batch adds succeeded documents', async () => {
    const first = fakes({ SUCCESS: 2, FAILURE: 1 });
    await ingestIfBatchEnded(first.deps, child('SUCCESS'));
    first.deps.batches.tally = async () => ({ counts: { ...zeroCounts(), SUCCESS: 3 } });
    const again = await ingestIfBatchEnded(first.deps, child('SUCCESS'));
    expect(again?.documents).toBe(3);
    expect(first.starts).toHaveLength(2);
  });

  it('records a refusal (a sync already running) on the batch instead of failing the task', async () => {
    const { deps, ingestion } = fakes({ SUCCESS: 1 }, { refuse: true });
    const recorded = await ingestIfBatchEnded(deps, child('SUCCESS'));
    expect(recorded).toMatchObject({
      state: 'NOT_STARTED',
      error: 'ConflictException: An ingestion job is already running',
    });
    expect(ingestion()).toEqual(recorded);
  });
});
