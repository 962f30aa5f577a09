import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE } from '../../shared/definitions.js';
import type { IdempotencyRecord } from '../core/ports.js';
import { isConditionFailure } from './dynamo-conditions.js';

const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
const idempotencyKey = (key: string) => ({ [TABLE.partitionKey]: `idem#${key}` });

/**
 * Idempotency-Key records in the task table, for the routes that create
 * tasks and batches: a key is claimed (conditional put) before what it makes
 * is written, and points at it for 24 hours. Plain conditional writes rather
 * than a transaction: the embedded emulator has no TransactWriteItems.
 */
export class DynamoIdempotencyKeys {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Claims the key for `record.task_id` (the task or batch the request makes); returns the live record that
   * holds it instead, if any. A record whose target was never written (`exists` says so: a crash between the
   * claim and the write) is taken over, so a key never stays stuck pointing at nothing.
   */
  async claim(
    record: IdempotencyRecord,
    exists: (id: string) => Promise<boolean>,
  ): Promise<IdempotencyRecord | undefined> {
    const nowSeconds = Math.floor(this.now().getTime() / 1000);
    const put = (condition: string, names: Record<string, string>, values: Record<string, unknown>) =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...idempotencyKey(record.key),
            fingerprint: record.fingerprint,
            target_task_id: record.task_id,
            [TABLE.ttlAttribute]: nowSeconds + IDEMPOTENCY_TTL_SECONDS,
          },
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    try {
      // A record past its 24 h may linger until TTL deletes it: it no longer counts.
      await put(
        'attribute_not_exists(#pk) OR #ttl < :now',
        { '#pk': TABLE.partitionKey, '#ttl': TABLE.ttlAttribute },
        { ':now': nowSeconds },
      );
      return undefined;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: idempotencyKey(record.key), ConsistentRead: true }),
    );
    if (!Item) return this.claim(record, exists);
    const holder = { key: record.key, fingerprint: String(Item.fingerprint), task_id: String(Item.target_task_id) };
    if (await exists(holder.task_id)) return holder;
    try {
      await put('#target = :old', { '#target': 'target_task_id' }, { ':old': holder.task_id });
      return undefined;
    } catch (error) {
      if (isConditionFailure(error)) return this.claim(record, exists);
      throw error;
    }
  }

  /** Frees a key claimed for a target that could not be written. */
  async release(key: string, taskId: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: idempotencyKey(key),
        ConditionExpression: '#target = :task',
        ExpressionAttributeNames: { '#target': 'target_task_id' },
        ExpressionAttributeValues: { ':task': taskId },
      }),
    );
  }
}
