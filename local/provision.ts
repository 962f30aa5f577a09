import {
  CreateTableCommand,
  DescribeTableCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DELIVERIES_TABLE, TABLE, type QueueSettings } from '../shared/definitions.js';

/**
 * The task table as the CDK stack defines it (key, indexes, TTL), created on
 * an emulator from the same definitions.
 */
export const createTaskTable = async (client: DynamoDBClient, tableName: string): Promise<void> => {
  const attributes = new Set<string>([TABLE.partitionKey]);
  for (const index of Object.values(TABLE.indexes)) {
    attributes.add(index.partitionKey);
    attributes.add(index.sortKey);
  }
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [...attributes].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [{ AttributeName: TABLE.partitionKey, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: Object.values(TABLE.indexes).map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: index.projection },
      })),
    }),
  );
  await untilActive(client, tableName);
  await enableTtl(client, tableName, TABLE.ttlAttribute);
};

/** The webhook delivery log as the CDK stack defines it: keyed by task and delivery, TTL. */
export const createDeliveriesTable = async (client: DynamoDBClient, tableName: string): Promise<void> => {
  const { partitionKey, sortKey } = DELIVERIES_TABLE;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [partitionKey, sortKey].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: partitionKey, KeyType: 'HASH' },
        { AttributeName: sortKey, KeyType: 'RANGE' },
      ],
    }),
  );
  await untilActive(client, tableName);
  await enableTtl(client, tableName, DELIVERIES_TABLE.ttlAttribute);
};

const untilActive = async (client: DynamoDBClient, tableName: string) => {
  for (let attempt = 0; attempt < 100; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

const enableTtl = (client: DynamoDBClient, tableName: string, attribute: string) =>
  client
    .send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: attribute, Enabled: true },
      }),
    )
    .catch(() => undefined); // dynalite does not implement TTL; the service also checks expires_at itself

export interface QueuePair {
  name: string;
  url: string;
  arn: string;
  deadLetters: { name: string; url: string; arn: string };
  settings: QueueSettings;
}

/**
 * A work queue and its DLQ with the settings the CDK stack gives them
 * (visibility timeout six times the consumer's timeout, redrive after
 * maxReceiveCount, long polling, retention).
 */
export const createQueuePair = async (sqs: SQSClient, name: string, settings: QueueSettings): Promise<QueuePair> => {
  const create = async (queueName: string, attributes: Record<string, string>) => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queueName, Attributes: attributes }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    return { name: queueName, url: String(QueueUrl), arn: String(Attributes?.QueueArn) };
  };
  const deadLetters = await create(`${name}-dead-letters`, {
    MessageRetentionPeriod: String(settings.deadLettersRetentionSeconds),
    VisibilityTimeout: String(settings.deadLettersVisibilityTimeoutSeconds),
  });
  const queue = await create(name, {
    VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(settings.retentionSeconds),
    ReceiveMessageWaitTimeSeconds: String(settings.receiveWaitSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetters.arn, maxReceiveCount: settings.maxReceiveCount }),
  });
  return { ...queue, deadLetters, settings };
};

export const createBucket = async (s3: S3Client, bucket: string): Promise<void> => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
};
