import { awsClients } from './clients.js';
import { DynamoBatchStore } from './dynamo-batch-store.js';
import { DynamoDeliveryStore } from './dynamo-delivery-store.js';
import { DynamoResultCache } from './dynamo-result-cache.js';
import { DynamoTaskStore } from './dynamo-task-store.js';
import { S3BlobStore } from './s3-blob-store.js';
import { SqsDeliveryQueue } from './sqs-delivery-queue.js';
import { SqsBatchJobQueue } from './sqs-batch-job-queue.js';
import { SqsJobQueue, SqsPartQueue } from './sqs-job-queue.js';
import { AwsEventSink } from './event-sink.js';
import { BedrockIngestion } from './bedrock-ingestion.js';

/** The adapters every function builds its dependencies from, over the shared SDK clients. */
export const taskStore = (tableName: string) => new DynamoTaskStore(awsClients().dynamo, tableName);

export const blobStore = () => new S3BlobStore(awsClients().s3);

/** The result cache's entries live in the task table. */
export const resultCache = (tableName: string) => new DynamoResultCache(awsClients().dynamo, tableName);

export const jobQueue = (urls: { QUEUE_URL: string; LARGE_QUEUE_URL: string }) =>
  new SqsJobQueue(awsClients().sqs, { standard: urls.QUEUE_URL, large: urls.LARGE_QUEUE_URL });

/** The pages queue, which the parts of fanned-out runs go to. */
export const partQueue = (queueUrl: string) => new SqsPartQueue(awsClients().sqs, queueUrl);

/** Where a function's events go; a batch child's changes are counted in the table the function changes it in. */
export const eventSink = (targets: { EVENT_BUS_NAME: string; WEBHOOK_QUEUE_URL: string; TABLE_NAME: string }) =>
  new AwsEventSink(
    awsClients(),
    { busName: targets.EVENT_BUS_NAME, webhookQueueUrl: targets.WEBHOOK_QUEUE_URL },
    batchStore(targets.TABLE_NAME),
  );

export const batchStore = (tableName: string) => new DynamoBatchStore(awsClients().dynamo, tableName);

export const deliveryStore = (tableName: string) => new DynamoDeliveryStore(awsClients().dynamo, tableName);

export const deliveryQueue = (queueUrl: string) => new SqsDeliveryQueue(awsClients().sqs, queueUrl);

export const batchJobQueue = (queueUrl: string) => new SqsBatchJobQueue(awsClients().sqs, queueUrl);

/** Knowledge-base syncs (destinations that name a knowledge base and data source). */
export const knowledgeBaseIngestion = () => new BedrockIngestion();
