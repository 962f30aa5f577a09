import {
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { DELIVERIES_TABLE } from '../../shared/definitions.js';
import type { Delivery, DeliveryAttempt, DeliveryStatus } from '../core/delivery.js';
import type { DeliveryRef, DeliveryStore } from '../core/ports.js';
import { isConditionFailure } from './dynamo-task-store.js';

const keyOf = (ref: DeliveryRef) => ({
  [DELIVERIES_TABLE.partitionKey]: ref.task_id,
  [DELIVERIES_TABLE.sortKey]: ref.delivery_id,
});

const toItem = (delivery: Delivery) => ({
  ...delivery,
  [DELIVERIES_TABLE.ttlAttribute]: Math.floor(Date.parse(delivery.expires_at) / 1000),
});

const fromItem = (item: Record<string, unknown> | undefined): Delivery | undefined => {
  if (!item) return undefined;
  const { [DELIVERIES_TABLE.ttlAttribute]: _ttl, ...delivery } = item;
  return delivery as unknown as Delivery;
};

/**
 * The delivery log in DynamoDB: an item per delivery under its task's
 * partition. Attempts are appended with list_append; a scheduled attempt's
 * condition (still pending, no later attempt recorded) is what drops the
 * attempts of duplicate messages.
 */
export class DynamoDeliveryStore implements DeliveryStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(ref: DeliveryRef) {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keyOf(ref), ConsistentRead: true }),
    );
    return fromItem(Item);
  }

  async open(delivery: Delivery) {
    const existing = await this.get(delivery);
    if (existing) return existing;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toItem(delivery),
          ConditionExpression: 'attribute_not_exists(#sk)',
          ExpressionAttributeNames: { '#sk': DELIVERIES_TABLE.sortKey },
        }),
      );
      return delivery;
    } catch (error) {
      // Another message of the same event created it a moment ago: that one is the delivery.
      const created = isConditionFailure(error) ? await this.get(delivery) : undefined;
      if (!created) throw error;
      return created;
    }
  }

  async list(taskId: string) {
    const deliveries: Delivery[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': DELIVERIES_TABLE.partitionKey },
          ExpressionAttributeValues: { ':pk': taskId },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      deliveries.push(...(page.Items ?? []).flatMap((item) => fromItem(item) ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return deliveries.sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  async recordScheduled(
    ref: DeliveryRef,
    position: number,
    attempt: DeliveryAttempt,
    outcome: { status: DeliveryStatus; nextAttemptAt?: string | undefined },
  ) {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyOf(ref),
          UpdateExpression: `SET #attempts = list_append(#attempts, :attempt), #status = :status, #scheduled = :next, #updated = :now${
            outcome.nextAttemptAt ? ', #nextAt = :nextAt' : ' REMOVE #nextAt'
          }`,
          ConditionExpression: '#status = :pending AND #scheduled <= :position',
          ExpressionAttributeNames: {
            '#attempts': 'attempts',
            '#status': 'status',
            '#scheduled': 'scheduled_attempts',
            '#updated': 'updated_at',
            '#nextAt': 'next_attempt_at',
          },
          ExpressionAttributeValues: {
            ':attempt': [attempt],
            ':status': outcome.status,
            ':pending': 'pending',
            ':position': position,
            ':next': position + 1,
            ':now': this.now().toISOString(),
            ...(outcome.nextAttemptAt ? { ':nextAt': outcome.nextAttemptAt } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async recordRedelivery(ref: DeliveryRef, attempt: DeliveryAttempt, delivered: boolean) {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keyOf(ref),
        UpdateExpression: `SET #attempts = list_append(#attempts, :attempt), #updated = :now${
          delivered ? ', #status = :delivered' : ''
        }`,
        ConditionExpression: 'attribute_exists(#attempts)',
        ExpressionAttributeNames: {
          '#attempts': 'attempts',
          '#updated': 'updated_at',
          ...(delivered ? { '#status': 'status' } : {}),
        },
        ExpressionAttributeValues: {
          ':attempt': [attempt],
          ':now': this.now().toISOString(),
          ...(delivered ? { ':delivered': 'delivered' } : {}),
        },
      }),
    );
  }
}
