import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface AwsClients {
  dynamo: DynamoDBDocumentClient;
  s3: S3Client;
  sqs: SQSClient;
  events: EventBridgeClient;
  secrets: SecretsManagerClient;
}

/**
 * Checksums only where S3 requires them: by default the SDK signs a CRC32 of
 * the (empty) body into presigned PUT URLs, and S3 then rejects every upload.
 */
export const S3_CLIENT_OPTIONS = {
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
} as const;

let clients: AwsClients | undefined;

/**
 * The embedded stack's seam: its runtime sets this before loading a
 * function, and so sees every client built here, to check each call against
 * the function's IAM policy as AWS would. Never set on Lambda.
 */
export interface LocalRuntimeHooks {
  docprocAwsClientsCreated?: (
    clients: Partial<AwsClients> & { bedrockAgent?: unknown; bedrockRuntime?: unknown },
  ) => void;
}

/**
 * SDK clients, created once per cold start and shared by every invocation
 * (and, in the local runtime, by every function of the thread). Where they
 * connect is a property of the process, read from its environment:
 * `AWS_REGION`, `AWS_ENDPOINT_URL_*`, and `S3_FORCE_PATH_STYLE`, which the
 * local stack sets for its S3 emulator and the deployed stack never does.
 */
export const awsClients = (): AwsClients => {
  if (!clients) {
    clients = {
      dynamo: DynamoDBDocumentClient.from(new DynamoDBClient({}), {
        marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
      }),
      s3: new S3Client({ ...S3_CLIENT_OPTIONS, forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true' }),
      sqs: new SQSClient({}),
      events: new EventBridgeClient({}),
      secrets: new SecretsManagerClient({}),
    };
    (globalThis as LocalRuntimeHooks).docprocAwsClientsCreated?.(clients);
  }
  return clients;
};

/** Forget the clients, so the next call builds them from the environment again (the local runtime, on restart). */
export const resetAwsClients = (): void => {
  clients = undefined;
};
