import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { AppError } from '../core/errors.js';
import type { IdempotencyRecord, ListQuery, TaskChanges, TaskPage, TaskStore, TransitionGuard } from '../core/ports.js';
import { TRANSITIONS, type Task, type TaskStatus, type Transition } from '../core/task.js';
import { TABLE } from '../../lib/definitions.js';

const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

const taskKey = (taskId: string) => ({ [TABLE.partitionKey]: taskId });
const idempotencyKey = (key: string) => ({ [TABLE.partitionKey]: `idem#${key}` });
const epochSeconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/** Row attributes beside the Task fields: keys for the table, its indexes and TTL. */
const toItem = (task: Task) => ({
  ...task,
  ...taskKey(task.task_id),
  [TABLE.listPartitionKey]: TABLE.listPartitionValue,
  [TABLE.ttlAttribute]: epochSeconds(task.expires_at),
});

const fromItem = (item: Record<string, unknown> | undefined): Task | undefined => {
  if (!item || typeof item.task_id !== 'string') return undefined;
  const { [TABLE.partitionKey]: _pk, [TABLE.listPartitionKey]: _list, [TABLE.ttlAttribute]: _ttl, ...task } = item;
  return task as unknown as Task;
};

const encodeCursor = (key: Record<string, unknown> | undefined) =>
  key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;

const decodeCursor = (cursor: string | undefined): Record<string, unknown> | undefined => {
  if (!cursor) return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (key && typeof key === 'object' && !Array.isArray(key)) return key as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new AppError('VALIDATION_ERROR', 'next_token: not a token this API returned', {
    details: [{ field: 'next_token', message: 'invalid' }],
  });
};

const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException ||
  (error as Error | undefined)?.name === 'ConditionalCheckFailedException';

/**
 * The task table in DynamoDB. Status changes are conditional updates whose
 * condition is the transition's allowed `from` statuses (plus the guard), so
 * the state machine holds under any interleaving of API calls and workers.
 */
export class DynamoTaskStore implements TaskStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async create(task: Task, idempotency?: IdempotencyRecord) {
    const putTask = {
      TableName: this.tableName,
      Item: toItem(task),
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
    };
    if (!idempotency) {
      await this.client.send(new PutCommand(putTask));
      return { created: true as const };
    }
    const nowSeconds = Math.floor(this.now().getTime() / 1000);
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: putTask },
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...idempotencyKey(idempotency.key),
                  fingerprint: idempotency.fingerprint,
                  target_task_id: idempotency.task_id,
                  [TABLE.ttlAttribute]: nowSeconds + IDEMPOTENCY_TTL_SECONDS,
                },
                // A record past its 24 h may linger until TTL deletes it: it no longer counts.
                ConditionExpression: 'attribute_not_exists(#pk) OR #ttl < :now',
                ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#ttl': TABLE.ttlAttribute },
                ExpressionAttributeValues: { ':now': nowSeconds },
              },
            },
          ],
        }),
      );
      return { created: true as const };
    } catch (error) {
      const clash =
        error instanceof TransactionCanceledException &&
        error.CancellationReasons?.[1]?.Code === 'ConditionalCheckFailed';
      if (!clash) throw error;
      const { Item } = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: idempotencyKey(idempotency.key), ConsistentRead: true }),
      );
      if (!Item) throw error;
      return {
        created: false as const,
        existing: { key: idempotency.key, fingerprint: String(Item.fingerprint), task_id: String(Item.target_task_id) },
      };
    }
  }

  async get(taskId: string) {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: taskKey(taskId), ConsistentRead: true }),
    );
    return fromItem(Item);
  }

  async transition(taskId: string, transition: Transition, changes: TaskChanges, guard: TransitionGuard = {}) {
    const { from, to } = TRANSITIONS[transition];
    const names: Record<string, string> = { '#status': 'status', '#pk': TABLE.partitionKey };
    const values: Record<string, unknown> = { ':to': to };
    const sets = ['#status = :to'];
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
          Key: taskKey(taskId),
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

  async updateProgress(taskId: string, runId: string, progress: number, stage: Task['stage']) {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: taskKey(taskId),
          UpdateExpression: 'SET #progress = :progress, #stage = :stage, #updated = :now',
          ConditionExpression: '#status = :started AND #run = :run AND #progress <= :progress',
          ExpressionAttributeNames: {
            '#progress': 'progress',
            '#stage': 'stage',
            '#updated': 'updated_at',
            '#status': 'status',
            '#run': 'run_id',
          },
          ExpressionAttributeValues: {
            ':progress': progress,
            ':stage': stage,
            ':now': this.now().toISOString(),
            ':started': 'STARTED',
            ':run': runId,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async list({ status, limit, cursor }: ListQuery): Promise<TaskPage> {
    const index = status ? TABLE.indexes.byStatus : TABLE.indexes.byCreated;
    const { Items, LastEvaluatedKey } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: index.name,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': index.partitionKey },
        ExpressionAttributeValues: { ':pk': status ?? TABLE.listPartitionValue },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor),
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
    await this.client.send(
      new TransactWriteCommand({
        TransactItems: [
          { Delete: { TableName: this.tableName, Key: taskKey(taskId) } },
          ...(idempotencyKeyValue
            ? [{ Delete: { TableName: this.tableName, Key: idempotencyKey(idempotencyKeyValue) } }]
            : []),
        ],
      }),
    );
  }
}
