import { awsClients } from './clients.js';
import { DynamoTaskStore } from './dynamo-task-store.js';
import { S3BlobStore } from './s3-blob-store.js';
import { SqsJobQueue } from './sqs-job-queue.js';

/** The adapters every function builds its dependencies from, over the shared SDK clients. */
export const taskStore = (tableName: string) => new DynamoTaskStore(awsClients().dynamo, tableName);

export const blobStore = () => new S3BlobStore(awsClients().s3);

export const jobQueue = (urls: { QUEUE_URL: string; LARGE_QUEUE_URL: string }) =>
  new SqsJobQueue(awsClients().sqs, { standard: urls.QUEUE_URL, large: urls.LARGE_QUEUE_URL });
