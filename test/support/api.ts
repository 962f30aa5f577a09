import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { S3_CLIENT_OPTIONS } from '../../lambdas/adapters/clients.js';
import { taskMetrics } from '../../lambdas/observability.js';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import { S3BlobStore } from '../../lambdas/adapters/s3-blob-store.js';
import { SqsJobQueue } from '../../lambdas/adapters/sqs-job-queue.js';
import type { ApiDeps } from '../../lambdas/api/deps.js';
import { apiEnvironmentSchema } from '../../lambdas/config.js';
import { NOW, TASK_ID } from './fixtures.js';
import { recordingEvents } from './events.js';

export const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/standard';
export const LARGE_QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/large';

const region = 'us-east-1';
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

/** SDK clients whose every command is intercepted by aws-sdk-client-mock. */
export const mockedAws = () => {
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region, credentials }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const s3 = new S3Client({ ...S3_CLIENT_OPTIONS, region, credentials });
  const sqs = new SQSClient({ region, credentials });
  return { dynamo, s3, sqs, ddbMock: mockClient(dynamo), s3Mock: mockClient(s3), sqsMock: mockClient(sqs) };
};

export const testApiConfig = (overrides: Record<string, string> = {}) =>
  apiEnvironmentSchema.parse({
    TABLE_NAME: 'tasks',
    BUCKET_NAME: 'docs-bucket',
    QUEUE_URL,
    LARGE_QUEUE_URL,
    LARGE_INPUT_THRESHOLD_BYTES: String(1024),
    DIRECT_UPLOAD_MAX_BYTES: String(4096),
    PRESIGNED_UPLOAD_MAX_BYTES: String(10 * 1024 * 1024),
    PRESIGNED_URL_TTL_SECONDS: '900',
    RESULT_INLINE_LIMIT_BYTES: String(2048),
    TASK_RETENTION_DAYS: '7',
    SOURCE_LOCATIONS: 'docs-bucket/inbox/,partner-bucket/',
    ...overrides,
  });

/** The test clock stands at NOW until a long poll pauses: a pause moves it on, without waiting. */
export const apiTestDeps = (aws: ReturnType<typeof mockedAws>, overrides: Record<string, string> = {}): ApiDeps => {
  const config = testApiConfig(overrides);
  let paused = 0;
  return {
    config,
    store: new DynamoTaskStore(aws.dynamo, config.TABLE_NAME, () => NOW),
    blobs: new S3BlobStore(aws.s3),
    queue: new SqsJobQueue(aws.sqs, { standard: QUEUE_URL, large: LARGE_QUEUE_URL }),
    clock: { now: () => new Date(NOW.getTime() + paused) },
    metrics: taskMetrics,
    events: recordingEvents().sink,
    newId: () => TASK_ID,
    pause: async (ms) => {
      paused += ms;
    },
  };
};

export interface EventInit {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  base64?: boolean;
  pathParameters?: Record<string, string>;
  query?: Record<string, string>;
  apiKeyId?: string;
}

/** An API Gateway REST (v1) proxy event. */
export const apiEvent = (init: EventInit = {}): APIGatewayProxyEvent => {
  const binary = Buffer.isBuffer(init.body) || init.base64;
  const body =
    init.body === undefined
      ? null
      : Buffer.isBuffer(init.body)
        ? init.body.toString('base64')
        : init.base64
          ? Buffer.from(init.body).toString('base64')
          : init.body;
  return {
    httpMethod: init.method ?? 'POST',
    path: init.path ?? '/documents/async/upload',
    resource: init.path ?? '/documents/async/upload',
    headers: init.headers ?? {},
    multiValueHeaders: Object.fromEntries(Object.entries(init.headers ?? {}).map(([key, value]) => [key, [value]])),
    body,
    isBase64Encoded: Boolean(binary),
    pathParameters: init.pathParameters ?? null,
    queryStringParameters: init.query ?? null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {
      requestId: 'req-123',
      stage: 'v1',
      identity: { apiKeyId: init.apiKeyId ?? null },
    } as unknown as APIGatewayProxyEvent['requestContext'],
  };
};

export const lambdaContext = (remainingMs = 29_000): Context =>
  ({
    awsRequestId: 'aws-req-1',
    functionName: 'test',
    getRemainingTimeInMillis: () => remainingMs,
  }) as unknown as Context;

export const bodyOf = (result: APIGatewayProxyResult | void) =>
  JSON.parse((result as APIGatewayProxyResult).body) as Record<string, any>;

/** A multipart/form-data body, as curl or requests would send it. */
export const multipart = (
  parts: Array<{ name: string; value: string | Buffer; filename?: string; contentType?: string }>,
  boundary = 'testboundary123',
) => {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = part.filename
      ? `form-data; name="${part.name}"; filename="${part.filename}"`
      : `form-data; name="${part.name}"`;
    const headers = [`Content-Disposition: ${disposition}`];
    if (part.filename) headers.push(`Content-Type: ${part.contentType ?? 'application/octet-stream'}`);
    chunks.push(Buffer.from(`--${boundary}\r\n${headers.join('\r\n')}\r\n\r\n`));
    chunks.push(Buffer.isBuffer(part.value) ? part.value : Buffer.from(part.value));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
};
