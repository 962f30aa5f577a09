import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import {
  TASK_STATUSES,
  TRANSITIONS,
  canTransition,
  type TaskStatus,
  type Transition,
} from '../../lambdas/core/task.js';
import { EVENT_OF_STATUS } from '../../lambdas/core/events.js';
import { startTestTable, type TestTable } from '../support/dynalite.js';
import { aTask, NOW } from '../support/fixtures.js';

let table: TestTable;
let store: DynamoTaskStore;
let counter = 0;
const newId = () => `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;

beforeAll(async () => {
  table = await startTestTable();
});
afterAll(async () => table.close());
beforeEach(() => {
  store = new DynamoTaskStore(table.client, table.tableName, () => NOW);
});

const withStatus = async (status: TaskStatus, extra = {}) => {
  const task = aTask({ task_id: newId(), status, ...extra });
  await store.create(task);
  return task;
};

const transitions = Object.keys(TRANSITIONS) as Transition[];
const matrix = TASK_STATUSES.flatMap((status) => transitions.map((transition) => [status, transition] as const));

describe('DynamoTaskStore state machine (conditional writes on a real DynamoDB emulator)', () => {
  it.each(matrix)('from %s, %s is allowed only if the table says so', async (status, transition) => {
    const task = await withStatus(status);
    const result = await store.transition(task, transition, {});
    const stored = await store.get(task.task_id);
    if (canTransition(status, transition)) {
      expect(result?.status).toBe(TRANSITIONS[transition].to);
      expect(stored?.status).toBe(TRANSITIONS[transition].to);
    } else {
      expect(result).toBeUndefined();
      expect(stored?.status).toBe(status);
    }
    // An event exists exactly when an announced change happened, written with it.
    const eventType = canTransition(status, transition) ? EVENT_OF_STATUS[TRANSITIONS[transition].to] : undefined;
    expect(stored?.outbox?.map((event) => event.type)).toEqual(eventType ? [eventType] : undefined);
  });

  it('allows no transition out of a terminal state except retry', () => {
    for (const status of ['SUCCESS', 'FAILURE', 'REVOKED'] as const) {
      const allowed = transitions.filter((transition) => canTransition(status, transition));
      expect(allowed).toEqual(status === 'SUCCESS' ? [] : ['retry']);
    }
  });

  it('refuses a transition for another attempt', async () => {
    const task = await withStatus('PENDING', { attempts: 2 });
    expect(await store.transition(task, 'start', {}, { attempt: 1 })).toBeUndefined();
    expect((await store.transition(task, 'start', {}, { attempt: 2 }))?.status).toBe('STARTED');
  });

  it('lets only one of two racing workers claim a task', async () => {
    const task = await withStatus('PENDING');
    const lease = new Date(NOW.getTime() + 60_000).toISOString();
    const claims = await Promise.all(
      ['run-a', 'run-b'].map((runId) =>
        store.transition(
          task,
          'start',
          { run_id: runId, lease_expires_at: lease },
          { attempt: 1, leaseExpiredBefore: NOW.toISOString() },
        ),
      ),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
  });

  it('lets a run take over a STARTED task only once the lease has run out', async () => {
    const task = await withStatus('STARTED', {
      run_id: 'old',
      lease_expires_at: new Date(NOW.getTime() + 1000).toISOString(),
    });
    const early = await store.transition(task, 'start', { run_id: 'new' }, { leaseExpiredBefore: NOW.toISOString() });
    expect(early).toBeUndefined();
    const later = new Date(NOW.getTime() + 2000).toISOString();
    const takeover = await store.transition(task, 'start', { run_id: 'new' }, { leaseExpiredBefore: later });
    expect(takeover?.run_id).toBe('new');
  });

  it('produces one outcome when two runs race to finish', async () => {
    const task = await withStatus('STARTED', { run_id: 'winner' });
    const loser = await store.transition(task, 'succeed', { progress: 100 }, { runId: 'loser' });
    const winner = await store.transition(task, 'succeed', { progress: 100 }, { runId: 'winner' });
    expect(loser).toBeUndefined();
    expect(winner?.status).toBe('SUCCESS');
  });

  it('never gives a REVOKED task a result', async () => {
    const task = await withStatus('STARTED', { run_id: 'run' });
    await store.transition(task, 'cancel', {});
    const late = await store.transition(task, 'succeed', { result: undefined, progress: 100 }, { runId: 'run' });
    expect(late).toBeUndefined();
    expect((await store.get(task.task_id))?.status).toBe('REVOKED');
  });

  it('keeps progress from going down within a run, and stops a run that lost the task', async () => {
    const task = await withStatus('STARTED', { run_id: 'run', progress: 40 });
    expect(await store.updateProgress(task.task_id, 'run', 30, 'parsing')).toBe(false);
    expect(await store.updateProgress(task.task_id, 'run', 55, 'parsing')).toBe(true);
    expect(await store.updateProgress(task.task_id, 'other-run', 60, 'parsing')).toBe(false);
    expect((await store.get(task.task_id))?.progress).toBe(55);
  });

  it('removes fields set to undefined and keeps the others', async () => {
    const task = await withStatus('FAILURE', {
      error: { code: 'DOCUMENT_PARSE_ERROR', message: 'x', retryable: false },
    });
    const retried = await store.transition(task, 'retry', { attempts: 2, error: undefined });
    expect(retried?.error).toBeUndefined();
    expect(retried?.attempts).toBe(2);
    expect(retried?.source).toEqual(task.source);
  });

  it('records an idempotency key with the task, atomically, and reports a clash', async () => {
    const first = aTask({ task_id: newId() });
    const second = aTask({ task_id: newId() });
    const key = { key: `client#${newId()}`, fingerprint: 'abc' };
    expect(await store.create(first, { ...key, task_id: first.task_id })).toEqual({ created: true });
    const clash = await store.create(second, { ...key, fingerprint: 'other', task_id: second.task_id });
    expect(clash).toEqual({ created: false, existing: { key: key.key, fingerprint: 'abc', task_id: first.task_id } });
    expect(await store.get(second.task_id)).toBeUndefined();
  });

  it('takes over a key whose task was never written', async () => {
    const key = { key: `client#${newId()}`, fingerprint: 'abc' };
    const ghost = newId();
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: { pk: `idem#${key.key}`, fingerprint: 'abc', target_task_id: ghost, ttl: 4102444800 },
      }),
    );
    const task = aTask({ task_id: newId() });
    expect(await store.create(task, { ...key, task_id: task.task_id })).toEqual({ created: true });
    expect((await store.get(task.task_id))?.task_id).toBe(task.task_id);
  });

  it("lists one owner's tasks newest first, by status, page by page, from the owner's index", async () => {
    const isolated = new DynamoTaskStore(table.client, table.tableName, () => NOW);
    const base = Date.parse('2030-01-01T00:00:00.000Z');
    const made: string[] = [];
    for (let index = 0; index < 5; index++) {
      const task = aTask({
        task_id: newId(),
        owner: 'key-a',
        status: 'REVOKED',
        created_at: new Date(base + index * 1000).toISOString(),
      });
      await isolated.create(task);
      made.push(task.task_id);
    }
    await isolated.create(aTask({ task_id: newId(), owner: 'key-b', status: 'REVOKED' }));
    const first = await isolated.list({ owner: 'key-a', status: 'REVOKED', limit: 2 });
    expect(first.tasks.map((task) => task.task_id)).toEqual([made[4], made[3]]);
    const second = await isolated.list({ owner: 'key-a', status: 'REVOKED', limit: 2, cursor: first.cursor });
    expect(second.tasks.map((task) => task.task_id)).toEqual([made[2], made[1]]);
    const everything = await isolated.list({ owner: 'key-a', limit: 100 });
    expect(everything.tasks).toHaveLength(5);
    expect(everything.tasks.every((task) => task.owner === 'key-a')).toBe(true);
    const dates = everything.tasks.map((task) => task.created_at);
    expect(dates).toEqual([...dates].sort().reverse());
  });

  it("moves a task between its owner's status listings as its status changes", async () => {
    const task = aTask({ task_id: newId(), owner: 'key-c', status: 'PENDING' });
    await store.create(task);
    expect((await store.list({ owner: 'key-c', status: 'PENDING', limit: 10 })).tasks).toHaveLength(1);
    await store.transition(task, 'cancel', {});
    expect((await store.list({ owner: 'key-c', status: 'PENDING', limit: 10 })).tasks).toHaveLength(0);
    expect((await store.list({ owner: 'key-c', status: 'REVOKED', limit: 10 })).tasks).toHaveLength(1);
  });

  it.each([
    ['not base64 JSON', 'not-a-cursor'],
    ['a JSON array', Buffer.from('[1]').toString('base64url')],
    [
      'attributes of another index',
      Buffer.from(JSON.stringify({ pk: 'x', status: 'PENDING', created_at: 'y' })).toString('base64url'),
    ],
    [
      'a number where a string goes',
      Buffer.from(JSON.stringify({ pk: 1, owner: 'key-a', created_at: 'y' })).toString('base64url'),
    ],
    [
      "another owner's position",
      Buffer.from(JSON.stringify({ pk: 'x', owner: 'key-b', created_at: 'y' })).toString('base64url'),
    ],
    [
      'an extra attribute',
      Buffer.from(JSON.stringify({ pk: 'x', owner: 'key-a', created_at: 'y', z: 'w' })).toString('base64url'),
    ],
  ])('rejects a cursor that is %s with a validation error, never a DynamoDB error', async (_name, cursor) => {
    await expect(store.list({ owner: 'key-a', limit: 5, cursor })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
  });
});

describe('the outbox of events', () => {
  const later = (ms: number) => new DynamoTaskStore(table.client, table.tableName, () => new Date(NOW.getTime() + ms));

  it('keeps events in order with stable ids, and lists the task among those with unsent events', async () => {
    const task = await withStatus('PENDING');
    await store.transition(task, 'start', {});
    const finished = await store.transition(task, 'succeed', {});
    expect(finished?.outbox?.map((event) => event.type)).toEqual(['task.started', 'task.succeeded']);
    expect(new Set(finished?.outbox?.map((event) => event.id)).size).toBe(2);
    const pending = await store.listWithPendingEvents(new Date(NOW.getTime() + 1).toISOString(), 100);
    expect(pending.map((row) => row.task_id)).toContain(task.task_id);
    // Not yet old enough for the sweep.
    expect((await store.listWithPendingEvents(NOW.toISOString(), 100)).map((row) => row.task_id)).not.toContain(
      task.task_id,
    );
  });

  it('takes off only the oldest event, by id, and the last one takes the task out of the listing', async () => {
    const task = await withStatus('PENDING');
    await store.transition(task, 'start', {});
    const [started, succeeded] = (await store.transition(task, 'succeed', {}))?.outbox ?? [];
    await store.acknowledgeEvents(task.task_id, [succeeded!.id]); // not the oldest: nothing changes
    expect((await store.get(task.task_id))?.outbox).toHaveLength(2);
    await store.acknowledgeEvents(task.task_id, [started!.id]);
    await store.acknowledgeEvents(task.task_id, [started!.id]); // a second sender: nothing more
    expect((await store.get(task.task_id))?.outbox?.map((event) => event.id)).toEqual([succeeded!.id]);
    await store.acknowledgeEvents(task.task_id, [succeeded!.id]);
    const done = await store.get(task.task_id);
    expect(done?.outbox).toBeUndefined();
    const pending = await later(60_000).listWithPendingEvents(new Date(NOW.getTime() + 60_000).toISOString(), 100);
    expect(pending.map((row) => row.task_id)).not.toContain(task.task_id);
  });

  it('takes several events off in one write, and falls back to each when another sender took the first', async () => {
    const both = await withStatus('PENDING');
    await store.transition(both, 'start', {});
    const events = (await store.transition(both, 'succeed', {}))?.outbox ?? [];
    await store.acknowledgeEvents(
      both.task_id,
      events.map((event) => event.id),
    );
    expect((await store.get(both.task_id))?.outbox).toBeUndefined();

    const raced = await withStatus('PENDING');
    await store.transition(raced, 'start', {});
    const [started, succeeded] = (await store.transition(raced, 'succeed', {}))?.outbox ?? [];
    await store.acknowledgeEvents(raced.task_id, [started!.id]); // the other sender
    await store.acknowledgeEvents(raced.task_id, [started!.id, succeeded!.id]);
    expect((await store.get(raced.task_id))?.outbox).toBeUndefined();
  });

  it('takes off a front of several and keeps the rest', async () => {
    const task = await withStatus('PENDING');
    await store.transition(task, 'start', {});
    await store.transition(task, 'start', {}); // a new run took over: STARTED again
    const [first, second, third] = (await store.transition(task, 'succeed', {}))?.outbox ?? [];
    await store.acknowledgeEvents(task.task_id, [first!.id, second!.id]);
    expect((await store.get(task.task_id))?.outbox?.map((event) => event.id)).toEqual([third!.id]);
  });

  it('keeps the index keys out of the task', async () => {
    const task = await withStatus('PENDING');
    const started = await store.transition(task, 'start', {});
    expect(Object.keys(started ?? {})).not.toContain('outbox_shard');
    expect(Object.keys(started ?? {})).not.toContain('outbox_since');
  });
});
