import { randomUUID } from 'node:crypto';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { AppError } from '../errors.js';
import type {
  BatchListQuery,
  IdempotencyRecord,
  ListQuery,
  TaskChanges,
  TaskPage,
  TaskStore,
  TransitionGuard,
} from '../core/ports.js';
import { EVENT_OF_STATUS } from '../core/events.js';
import {
  partKey,
  QUEUED_EVENT,
  TRANSITIONS,
  type Task,
  type TaskEvent,
  type TaskFanOut,
  type TaskRef,
  type TaskStatus,
  type Transition,
} from '../core/task.js';
import { TABLE } from '../../shared/definitions.js';
import { positionKey } from '../core/batch.js';
import { isConditionFailure } from './dynamo-conditions.js';
import { DynamoIdempotencyKeys } from './dynamo-idempotency-keys.js';

const taskKey = (taskId: string) => ({ [TABLE.partitionKey]: taskId });
const epochSeconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);
const ownerStatus = (owner: string, status: TaskStatus) => `${owner}#${status}`;

const PENDING = TABLE.indexes.byPendingEvents;
const BY_BATCH = TABLE.indexes.byBatch;

/** Row attributes beside the Task fields: keys for the table, its indexes and TTL. */
const toItem = (task: Task) => ({
  ...task,
  ...taskKey(task.task_id),
  [TABLE.ownerStatusAttribute]: ownerStatus(task.owner, task.status),
  [TABLE.ttlAttribute]: epochSeconds(task.expires_at),
  // A row born with an event (a task created FAILURE) is in the sweep's index until the event is sent.
  ...(task.outbox?.[0]
    ? { [PENDING.partitionKey]: TABLE.pendingEventsShard, [PENDING.sortKey]: task.outbox[0].occurred_at }
    : {}),
  ...(task.batch
    ? { [BY_BATCH.partitionKey]: task.batch.id, [BY_BATCH.sortKey]: positionKey(task.batch.position) }
    : {}),
});

const fromItem = (item: Record<string, unknown> | undefined): Task | undefined => {
  if (!item || typeof item.task_id !== 'string') return undefined;
  const {
    [TABLE.partitionKey]: _pk,
    [TABLE.ownerStatusAttribute]: _ownerStatus,
    [TABLE.ttlAttribute]: _ttl,
    [PENDING.partitionKey]: _shard,
    [PENDING.sortKey]: _since,
    [BY_BATCH.partitionKey]: _batch,
    [BY_BATCH.sortKey]: _position,
    ...task
  } = item;
  return task as unknown as Task;
};

/**
 * `next_token` is the index position DynamoDB returned, as base64url JSON.
 * A token is accepted only with exactly the key attributes of the index it
 * came from, as strings, and only for the partition being listed: anything
 * else (forged, or another caller's) would be DynamoDB's ValidationException,
 * a 500, and is a 400 instead.
 */
const encodeCursor = (key: Record<string, unknown> | undefined) =>
  key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;

const badToken = () =>
  new AppError('VALIDATION_ERROR', 'next_token: not a token this API returned for this listing.', {
    details: [{ field: 'next_token', message: 'invalid' }],
  });

const decodeCursor = (
  cursor: string | undefined,
  index: { partitionKey: string; sortKey: string },
  partition: string,
): Record<string, string> | undefined => {
  if (!cursor) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badToken();
  }
  const expected = [TABLE.partitionKey, index.partitionKey, index.sortKey].sort();
  if (!key || typeof key !== 'object' || Array.isArray(key)) throw badToken();
  const entries = Object.entries(key);
  const valid =
    entries.length === expected.length &&
    entries.every(
      ([name, value]) =>
        expected.includes(name) && typeof value === 'string' && value.length >= 1 && value.length <= 1024,
    ) &&
    (key as Record<string, string>)[index.partitionKey] === partition;
  if (!valid) throw badToken();
  return key as Record<string, string>;
};

export { isConditionFailure } from './dynamo-conditions.js';

/**
 * The task table in DynamoDB. Status changes are conditional updates whose
 * condition is the transition's allowed `from` statuses (plus the guard), so
 * the state machine holds under any interleaving of API calls and workers.
 */
export class DynamoTaskStore implements TaskStore {
  private readonly keys: DynamoIdempotencyKeys;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.keys = new DynamoIdempotencyKeys(client, tableName, now);
  }

  /**
   * Creates the row. With an idempotency key, the key's record is claimed
   * first (conditional put) and the row written after it; a record whose task
   * was never written (a crash in between) is taken over, so a key can never
   * stay stuck pointing at nothing. Plain conditional writes rather than a
   * transaction: the embedded emulator has no TransactWriteItems.
   */
  async create(task: Task, idempotency?: IdempotencyRecord) {
    if (idempotency) {
      const existing = await this.keys.claim(idempotency, async (id) => (await this.get(id)) !== undefined);
      if (existing) return { created: false as const, existing };
    }
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toItem(task),
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
        }),
      );
    } catch (error) {
      if (idempotency) await this.keys.release(idempotency.key, task.task_id).catch(() => undefined);
      throw error;
    }
    return { created: true as const };
  }

  async createChild(task: Task) {
    try {
      await this.create(task);
      return { created: true, task };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const existing = await this.get(task.task_id);
    if (!existing) throw new Error(`Task ${task.task_id} exists and cannot be read.`);
    return { created: false, task: existing };
  }

  /** One batch's children, from the index keyed by batch (never a filter over the table). */
  async listBatch({ batchId, status, limit, cursor }: BatchListQuery): Promise<TaskPage> {
    const { Items, LastEvaluatedKey } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: BY_BATCH.name,
        KeyConditionExpression: '#pk = :pk',
        ...(status ? { FilterExpression: '#status = :status' } : {}),
        ExpressionAttributeNames: { '#pk': BY_BATCH.partitionKey, ...(status ? { '#status': 'status' } : {}) },
        ExpressionAttributeValues: { ':pk': batchId, ...(status ? { ':status': status } : {}) },
        ScanIndexForward: true,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, BY_BATCH, batchId),
      }),
    );
    return {
      tasks: (Items ?? []).map(fromItem).filter((task): task is Task => task !== undefined),
      cursor: encodeCursor(LastEvaluatedKey),
    };
  }

  async get(taskId: string) {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: taskKey(taskId), ConsistentRead: true }),
    );
    return fromItem(Item);
  }

  async transition(task: TaskRef, transition: Transition, changes: TaskChanges, guard: TransitionGuard = {}) {
    const { from, to } = TRANSITIONS[transition];
    const names: Record<string, string> = {
      '#status': 'status',
      '#pk': TABLE.partitionKey,
      '#ownerStatus': TABLE.ownerStatusAttribute,
    };
    const values: Record<string, unknown> = {
      ':to': to,
      ':ownerStatus': ownerStatus(task.owner, to),
      ':noVersion': 0,
      ':one': 1,
    };
    names['#version'] = 'version';
    // Rows from before versions were kept start from 0: only their order matters.
    const sets = [
      '#status = :to',
      '#ownerStatus = :ownerStatus',
      '#version = if_not_exists(#version, :noVersion) + :one',
    ];
    const removes: string[] = [];
    Object.entries({ updated_at: this.now().toISOString(), ...changes }).forEach(([field, value], index) => {
      names[`#f${index}`] = field;
      if (value === undefined) {
        removes.push(`#f${index}`);
      } else {
        values[`:v${index}`] = value;
        sets.push(`#f${index} = :v${index}`);
      }
    });
    const fromList = (from as readonly TaskStatus[]).map((status, index) => {
      values[`:from${index}`] = status;
      return `:from${index}`;
    });
    // A batch child's every change goes out, counted by its batch; the others' only when announced.
    const eventType = EVENT_OF_STATUS[to] ?? (task.batch ? QUEUED_EVENT : undefined);
    if (eventType) {
      // The event goes in with the change, or not at all: no change without its event, no event without its change.
      const event: TaskEvent = { id: randomUUID(), type: eventType, occurred_at: this.now().toISOString() };
      Object.assign(names, { '#outbox': 'outbox', '#shard': PENDING.partitionKey, '#since': PENDING.sortKey });
      Object.assign(values, {
        ':event': [event],
        ':noEvents': [],
        ':shard': TABLE.pendingEventsShard,
        ':since': event.occurred_at,
      });
      sets.push(
        '#outbox = list_append(if_not_exists(#outbox, :noEvents), :event)',
        '#shard = :shard',
        '#since = if_not_exists(#since, :since)',
      );
    }
    const conditions = ['attribute_exists(#pk)', `#status IN (${fromList.join(', ')})`];
    if (guard.attempt !== undefined) {
      names['#attempts'] = 'attempts';
      values[':attempt'] = guard.attempt;
      conditions.push('#attempts = :attempt');
    }
    if (guard.runId !== undefined) {
      names['#run'] = 'run_id';
      values[':run'] = guard.runId;
      conditions.push('#run = :run');
    }
    if (guard.leaseExpiredBefore !== undefined) {
      names['#lease'] = 'lease_expires_at';
      values[':started'] = 'STARTED';
      values[':leaseBefore'] = guard.leaseExpiredBefore;
      conditions.push('(#status <> :started OR attribute_not_exists(#lease) OR #lease < :leaseBefore)');
    }
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: taskKey(task.task_id),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(Attributes);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * Takes sent events off the front of the outbox in one write, if they are
   * still there in that order (another sender may have been first); when
   * they are all of it, the row leaves `by_pending_events` with them. If the
   * front is no longer what was sent, each is tried on its own.
   */
  async acknowledgeEvents(taskId: string, eventIds: readonly string[]): Promise<void> {
    if (!eventIds.length) return;
    const outbox = { '#outbox': 'outbox', '#id': 'id' };
    const index = { '#shard': PENDING.partitionKey, '#since': PENDING.sortKey };
    const values: Record<string, unknown> = { ':count': eventIds.length };
    const front = eventIds.map((id, position) => {
      values[`:id${position}`] = id;
      return `#outbox[${position}].#id = :id${position}`;
    });
    const attempts = [
      {
        expression: 'REMOVE #outbox, #shard, #since',
        condition: 'size(#outbox) = :count',
        names: { ...outbox, ...index },
      },
      {
        // Highest index first: DynamoDB reads every index against the list as it was, dynalite one after
        // another; in this order both remove the same elements.
        expression: `REMOVE ${eventIds.map((_, position) => `#outbox[${eventIds.length - 1 - position}]`).join(', ')}`,
        condition: 'size(#outbox) > :count',
        names: outbox,
      },
    ];
    for (const { expression, condition, names } of attempts) {
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: taskKey(taskId),
            UpdateExpression: expression,
            ConditionExpression: [...front, condition].join(' AND '),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        );
        return;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    }
    if (eventIds.length > 1) for (const id of eventIds) await this.acknowledgeEvents(taskId, [id]);
  }

  /** Tasks whose oldest unsent event is older than `before`, oldest first. */
  async listWithPendingEvents(before: string, limit: number) {
    const { Items = [] } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: PENDING.name,
        KeyConditionExpression: '#shard = :shard AND #since < :before',
        ExpressionAttributeNames: { '#shard': PENDING.partitionKey, '#since': PENDING.sortKey },
        ExpressionAttributeValues: { ':shard': TABLE.pendingEventsShard, ':before': before },
        Limit: limit,
      }),
    );
    // The index holds keys only: each row is read whole (a handful, left by functions that died).
    const tasks = await Promise.all(Items.map((item) => this.get(String(item[TABLE.partitionKey]))));
    return tasks.filter((task): task is Task => task !== undefined);
  }

  /**
   * One update of a task that its run still holds (STARTED, `run_id` the
   * run's), `updated_at` set with it: written (with the row after the write
   * when `returnRow`), or undefined when the condition failed (cancelled,
   * taken over, or `condition` false).
   */
  private async updateWhileRunning(
    taskId: string,
    runId: string,
    update: {
      set: string;
      names: Record<string, string>;
      values: Record<string, unknown>;
      condition?: string;
      returnRow?: boolean;
    },
  ): Promise<{ row?: Task | undefined } | undefined> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: taskKey(taskId),
          UpdateExpression: `SET ${update.set}, #updated = :now`,
          ConditionExpression: `#status = :started AND #run = :run${update.condition ? ` AND ${update.condition}` : ''}`,
          ExpressionAttributeNames: {
            ...update.names,
            '#updated': 'updated_at',
            '#status': 'status',
            '#run': 'run_id',
          },
          ExpressionAttributeValues: {
            ...update.values,
            ':now': this.now().toISOString(),
            ':started': 'STARTED',
            ':run': runId,
          },
          // Progress writes are frequent: only the part record needs the row back.
          ReturnValues: update.returnRow ? 'ALL_NEW' : 'NONE',
        }),
      );
      return { row: update.returnRow ? fromItem(Attributes) : undefined };
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async updateProgress(taskId: string, runId: string, progress: number, stage: Task['stage']) {
    const written = await this.updateWhileRunning(taskId, runId, {
      set: '#progress = :progress, #stage = :stage',
      names: { '#progress': 'progress', '#stage': 'stage' },
      values: { ':progress': progress, ':stage': stage },
      condition: '#progress <= :progress',
    });
    return written !== undefined;
  }

  async startFanOut(taskId: string, runId: string, fanOut: TaskFanOut, leaseExpiresAt: string) {
    const written = await this.updateWhileRunning(taskId, runId, {
      set: '#fanOut = :fanOut, #lease = :lease',
      names: { '#fanOut': 'fan_out', '#lease': 'lease_expires_at' },
      values: { ':fanOut': fanOut, ':lease': leaseExpiresAt },
    });
    return written !== undefined;
  }

  /** One write: the part into `fan_out.done` only if it is not there yet, so a repeated delivery changes nothing. */
  async recordPart(taskId: string, runId: string, part: number, ocrPages: number, leaseExpiresAt: string) {
    const written = await this.updateWhileRunning(taskId, runId, {
      set: '#fanOut.#done.#part = :pages, #lease = :lease',
      names: { '#fanOut': 'fan_out', '#done': 'done', '#part': partKey(part), '#lease': 'lease_expires_at' },
      values: { ':pages': ocrPages, ':lease': leaseExpiresAt },
      condition: 'attribute_exists(#fanOut) AND attribute_not_exists(#fanOut.#done.#part)',
      returnRow: true,
    });
    return written?.row;
  }

  /** One caller's tasks, from the index keyed by owner (never a filter over everyone's). */
  async list({ owner, status, limit, cursor }: ListQuery): Promise<TaskPage> {
    const index = status ? TABLE.indexes.byOwnerStatus : TABLE.indexes.byOwner;
    const partition = status ? ownerStatus(owner, status) : owner;
    const { Items, LastEvaluatedKey } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: index.name,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': index.partitionKey },
        ExpressionAttributeValues: { ':pk': partition },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, index, partition),
      }),
    );
    return {
      tasks: (Items ?? []).map(fromItem).filter((task): task is Task => task !== undefined),
      cursor: encodeCursor(LastEvaluatedKey),
    };
  }

  async listOlderThan(status: TaskStatus, before: string, limit: number) {
    const index = TABLE.indexes.byStatus;
    const { Items } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: index.name,
        KeyConditionExpression: '#pk = :status AND #sk < :before',
        ExpressionAttributeNames: { '#pk': index.partitionKey, '#sk': index.sortKey },
        ExpressionAttributeValues: { ':status': status, ':before': before },
        ScanIndexForward: true,
        Limit: limit,
      }),
    );
    return (Items ?? []).map(fromItem).filter((task): task is Task => task !== undefined);
  }

  async remove(taskId: string, idempotencyKeyValue?: string) {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: taskKey(taskId) }));
    if (idempotencyKeyValue) await this.keys.release(idempotencyKeyValue, taskId).catch(() => undefined);
  }
}
