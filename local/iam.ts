import type { PolicyStatementSpec } from '../lib/function-catalogue.js';

/**
 * IAM as the embedded stack enforces it: each function's AWS calls are
 * checked against the statements its catalogue record grants (the same ones
 * the CDK stack attaches to its role), the way IAM evaluates an identity
 * policy of Allow statements, and a call no statement allows fails with the
 * error AWS would answer. S3 also answers 403 instead of 404 for a missing key
 * when the caller may not list the bucket, as S3 does.
 */
export interface AwsRequest {
  /** `s3:GetObject`, `dynamodb:Query`, `sqs:SendMessage`… */
  action: string;
  /** The ARN the action is on. */
  resource: string;
  /** Condition keys the request carries (`s3:prefix` of a listing). */
  context?: Record<string, string>;
}

/** IAM's wildcards: `*` any run of characters, `?` one. Patterns are few: each is compiled once. */
const compiled = new Map<string, RegExp>();
const matches = (pattern: string, value: string): boolean => {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === value;
  let regex = compiled.get(pattern);
  if (!regex) {
    regex = new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      's',
    );
    compiled.set(pattern, regex);
  }
  return regex.test(value);
};

/**
 * A statement's conditions, as IAM evaluates them: every operator must hold,
 * each key with any of its values. The policies here use StringLike only; any
 * other operator, or a key the request does not carry, does not hold (IAM
 * too fails a condition on a missing key).
 */
const conditionsHold = (statement: PolicyStatementSpec, request: AwsRequest): boolean =>
  Object.entries(statement.conditions ?? {}).every(
    ([operator, keys]) =>
      operator === 'StringLike' &&
      Object.entries(keys).every(([key, patterns]) => {
        const value = request.context?.[key];
        return value !== undefined && patterns.some((pattern) => matches(pattern, value));
      }),
  );

/** Whether an Allow statement covers the request (there are no Deny statements in the service's policies). */
export const isAllowed = (policy: readonly PolicyStatementSpec[], request: AwsRequest): boolean =>
  allowingStatement(policy, request) !== undefined;

/** The statement (by index) and pattern that allowed a request: what the grant-coverage test counts. */
export const allowingStatement = (
  policy: readonly PolicyStatementSpec[],
  request: AwsRequest,
): { statement: number; action: string; resource: string } | undefined => {
  for (const [index, statement] of policy.entries()) {
    const action = statement.actions.find((candidate) =>
      matches(candidate.toLowerCase(), request.action.toLowerCase()),
    );
    const resource = statement.resources.find((candidate) => matches(candidate, request.resource));
    if (action && resource && conditionsHold(statement, request)) return { statement: index, action, resource };
  }
  return undefined;
};

/** The services the functions call, by their IAM prefix. */
export type AwsService = 's3' | 'dynamodb' | 'sqs' | 'events' | 'secretsmanager' | 'bedrock';

export interface LocalAccount {
  region: string;
  account: string;
}

const DYNAMODB_ACTIONS: Record<string, string> = {
  GetItemCommand: 'dynamodb:GetItem',
  PutItemCommand: 'dynamodb:PutItem',
  UpdateItemCommand: 'dynamodb:UpdateItem',
  DeleteItemCommand: 'dynamodb:DeleteItem',
  QueryCommand: 'dynamodb:Query',
  ScanCommand: 'dynamodb:Scan',
  BatchGetItemCommand: 'dynamodb:BatchGetItem',
  BatchWriteItemCommand: 'dynamodb:BatchWriteItem',
  TransactWriteItemsCommand: 'dynamodb:TransactWriteItems',
  DescribeTableCommand: 'dynamodb:DescribeTable',
};

const S3_OBJECT_ACTIONS: Record<string, string> = {
  GetObjectCommand: 's3:GetObject',
  HeadObjectCommand: 's3:GetObject',
  PutObjectCommand: 's3:PutObject',
  DeleteObjectCommand: 's3:DeleteObject',
  CopyObjectCommand: 's3:PutObject',
  CreateMultipartUploadCommand: 's3:PutObject',
  UploadPartCommand: 's3:PutObject',
  CompleteMultipartUploadCommand: 's3:PutObject',
};

const SQS_ACTIONS: Record<string, string> = {
  SendMessageCommand: 'sqs:SendMessage',
  SendMessageBatchCommand: 'sqs:SendMessage',
  ReceiveMessageCommand: 'sqs:ReceiveMessage',
  DeleteMessageCommand: 'sqs:DeleteMessage',
  DeleteMessageBatchCommand: 'sqs:DeleteMessage',
  ChangeMessageVisibilityCommand: 'sqs:ChangeMessageVisibility',
  GetQueueAttributesCommand: 'sqs:GetQueueAttributes',
  GetQueueUrlCommand: 'sqs:GetQueueUrl',
};

/**
 * The IAM request an SDK command makes: its action and resource ARN, from the
 * command's name and input. A command this service never sends is described
 * by its name, so that a policy without it denies it.
 */
export const describeCommand = (
  service: AwsService,
  command: string,
  input: Record<string, unknown>,
  account: LocalAccount,
): AwsRequest => {
  if (service === 'dynamodb') {
    // Batch operations name their tables as the keys of RequestItems (the service uses one table per call).
    const tableName = typeof input.TableName === 'string' ? input.TableName : Object.keys(input.RequestItems ?? {})[0];
    const table = `arn:aws:dynamodb:${account.region}:${account.account}:table/${tableName ?? 'undefined'}`;
    const index = typeof input.IndexName === 'string' ? `${table}/index/${input.IndexName}` : table;
    return { action: DYNAMODB_ACTIONS[command] ?? `dynamodb:${command.replace(/Command$/, '')}`, resource: index };
  }
  if (service === 'events') {
    // PutEvents is authorized on each entry's bus; the service puts one entry at a time.
    const entries = (input.Entries ?? []) as Array<{ EventBusName?: string }>;
    const bus = entries[0]?.EventBusName ?? 'default';
    return {
      action: `events:${command.replace(/Command$/, '')}`,
      resource: `arn:aws:events:${account.region}:${account.account}:event-bus/${bus}`,
    };
  }
  if (service === 'secretsmanager') {
    // Functions name a secret by its complete ARN, which is what their policies grant.
    const secretId = String(input.SecretId);
    return {
      action: `secretsmanager:${command.replace(/Command$/, '')}`,
      resource: secretId.startsWith('arn:')
        ? secretId
        : `arn:aws:secretsmanager:${account.region}:${account.account}:secret:${secretId}`,
    };
  }
  if (service === 'bedrock') {
    // The knowledge-base APIs are authorized on the knowledge base they name.
    return {
      action: `bedrock:${command.replace(/Command$/, '')}`,
      resource: `arn:aws:bedrock:${account.region}:${account.account}:knowledge-base/${String(input.knowledgeBaseId)}`,
    };
  }
  if (service === 's3') {
    const bucket = `arn:aws:s3:::${String(input.Bucket)}`;
    const objectAction = S3_OBJECT_ACTIONS[command];
    if (objectAction) return { action: objectAction, resource: `${bucket}/${String(input.Key)}` };
    if (command === 'ListObjectsV2Command' || command === 'ListObjectsCommand') {
      return {
        action: 's3:ListBucket',
        resource: bucket,
        context: { 's3:prefix': typeof input.Prefix === 'string' ? input.Prefix : '' },
      };
    }
    return { action: `s3:${command.replace(/Command$/, '')}`, resource: bucket };
  }
  const queue = input.QueueUrl ?? input.QueueName;
  const queueName = (typeof queue === 'string' ? queue : '').split('/').pop();
  return {
    action: SQS_ACTIONS[command] ?? `sqs:${command.replace(/Command$/, '')}`,
    resource: `arn:aws:sqs:${account.region}:${account.account}:${queueName}`,
  };
};

/** CopyObject also reads its source: IAM authorizes that as s3:GetObject on the source object. */
export const copySourceRead = (command: string, input: Record<string, unknown>): AwsRequest | undefined => {
  if (command !== 'CopyObjectCommand' || typeof input.CopySource !== 'string') return undefined;
  const [source = ''] = input.CopySource.split('?');
  return { action: 's3:GetObject', resource: `arn:aws:s3:::${decodeURIComponent(source).replace(/^\//, '')}` };
};

/** The error AWS answers a call IAM refused with, as the SDK would raise it. */
export const accessDenied = (service: AwsService, request: AwsRequest, principal: string): Error => {
  const message = `User: arn:aws:sts::000000000000:assumed-role/${principal}/${principal} is not authorized to perform: ${request.action} on resource: ${request.resource} because no identity-based policy allows the ${request.action} action`;
  const name = service === 's3' ? 'AccessDenied' : 'AccessDeniedException';
  return Object.assign(new Error(message), {
    name,
    Code: name,
    $fault: 'client',
    $metadata: { httpStatusCode: service === 's3' || service === 'sqs' ? 403 : 400 },
  });
};

/** S3's answer to a read of a missing key by a caller who may not list the bucket: 403, not 404. */
export const missingWithoutList = (command: string): Error => {
  // HEAD responses have no body: the SDK names the error after the status.
  const name = command === 'HeadObjectCommand' ? 'Forbidden' : 'AccessDenied';
  return Object.assign(new Error(name === 'Forbidden' ? 'Forbidden' : 'Access Denied'), {
    name,
    Code: name,
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
  });
};

/** What the runtime reports of a function's calls: the grant each allowed call used, and each refusal. */
export type IamNotice =
  | { iam: 'used'; function: string; statement: number; action: string; resource: string }
  | { iam: 'denied'; function: string; action: string; resource: string };

interface MiddlewareStackLike {
  add(
    middleware: (
      next: (args: { input: Record<string, unknown> }) => Promise<unknown>,
      context: { commandName?: string },
    ) => (args: { input: Record<string, unknown> }) => Promise<unknown>,
    options: { step: 'initialize'; name: string },
  ): void;
}

const isMissingObject = (error: unknown) => {
  const name = (error as { name?: string } | undefined)?.name;
  return name === 'NoSuchKey' || name === 'NotFound';
};

/**
 * Puts the IAM check in front of every call of the given SDK clients: a
 * refused call never reaches the emulator; a read of a missing S3 key by a
 * function without s3:ListBucket on the bucket becomes S3's 403.
 */
export const enforcePolicy = (
  clients: Partial<
    Record<'s3' | 'dynamo' | 'sqs' | 'events' | 'secrets' | 'bedrockAgent', { middlewareStack: unknown }>
  >,
  options: {
    functionName: string;
    policy: readonly PolicyStatementSpec[];
    account: LocalAccount;
    report: (notice: IamNotice) => void;
  },
): void => {
  const reported = new Set<string>();
  const services = {
    s3: 's3',
    dynamo: 'dynamodb',
    sqs: 'sqs',
    events: 'events',
    secrets: 'secretsmanager',
    bedrockAgent: 'bedrock',
  } as const;
  for (const [key, service] of Object.entries(services) as Array<[keyof typeof services, AwsService]>) {
    // Clients built on first use (the Bedrock Agent client) come on their own.
    const client = clients[key];
    if (!client) continue;
    (client.middlewareStack as MiddlewareStackLike).add(
      (next, context) => async (args) => {
        const command = context.commandName ?? 'UnknownCommand';
        const request = describeCommand(service, command, args.input, options.account);
        const sourceRead = service === 's3' ? copySourceRead(command, args.input) : undefined;
        for (const needed of sourceRead ? [request, sourceRead] : [request]) {
          const allowed = allowingStatement(options.policy, needed);
          if (!allowed) {
            options.report({ iam: 'denied', function: options.functionName, ...needed });
            throw accessDenied(service, needed, options.functionName);
          }
          const usage = `${allowed.statement} ${allowed.action} ${allowed.resource}`;
          if (!reported.has(usage)) {
            reported.add(usage);
            options.report({ iam: 'used', function: options.functionName, ...allowed });
          }
        }
        try {
          return await next(args);
        } catch (error) {
          if (
            service === 's3' &&
            (command === 'GetObjectCommand' || command === 'HeadObjectCommand' || sourceRead) &&
            isMissingObject(error)
          ) {
            // The 404 is S3's answer only to a caller who may list the bucket: that is what s3:ListBucket is used for.
            const bucket = sourceRead ? sourceRead.resource.slice(0, sourceRead.resource.indexOf('/')) : undefined;
            const list = { action: 's3:ListBucket', resource: bucket ?? `arn:aws:s3:::${String(args.input.Bucket)}` };
            const listing = allowingStatement(options.policy, list);
            if (!listing) throw missingWithoutList(command);
            options.report({ iam: 'used', function: options.functionName, ...listing });
          }
          throw error;
        }
      },
      { step: 'initialize', name: 'localIamPolicy' },
    );
  }
};
