import { Match, Template } from 'aws-cdk-lib/assertions';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';

import { ensureSynth } from '../support/synth.js';

let template: Template;
let cdkOut: string;
let raw: {
  Resources: Record<string, { Type: string; Properties: Record<string, any> }>;
  Outputs: Record<string, unknown>;
};

beforeAll(async () => {
  cdkOut = await ensureSynth(inject('runId'));
  const path = join(cdkOut, 'DocProc.template.json');
  raw = JSON.parse(readFileSync(path, 'utf8'));
  template = Template.fromJSON(raw);
});

const resourcesOf = (type: string) => Object.entries(raw.Resources).filter(([, resource]) => resource.Type === type);

const functionByDescription = (text: string) => {
  const found = resourcesOf('AWS::Lambda::Function').find(([, fn]) =>
    String(fn.Properties.Description ?? '').startsWith(text),
  );
  if (!found) throw new Error(`no function described as ${text}`);
  return found;
};

/** Every statement of the inline policy attached to a function's role. */
const statementsOf = (functionId: string) => {
  const roleRef = raw.Resources[functionId]?.Properties.Role['Fn::GetAtt'][0];
  return resourcesOf('AWS::IAM::Policy')
    .filter(([, policy]) => policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleRef))
    .flatMap(
      ([, policy]) =>
        policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>,
    );
};
const actionsOf = (functionId: string) =>
  statementsOf(functionId)
    .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]))
    .sort();

describe('synthesized stack', () => {
  it('passes the cdk-nag AwsSolutions checks', () => {
    const report = JSON.parse(readFileSync(join(cdkOut, 'validation-report.json'), 'utf8'));
    const violations = report.pluginReports.flatMap((plugin: { violations?: unknown[] }) => plugin.violations ?? []);
    expect(violations).toEqual([]);
  });

  it('runs every function on Node.js 24, ARM64, traced, with a log group that expires', () => {
    const functions = resourcesOf('AWS::Lambda::Function').filter(
      ([id]) => !id.startsWith('BucketNotificationsHandler'),
    );
    expect(functions.length).toBe(24);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
      });
      const logGroupId = fn.Properties.LoggingConfig.LogGroup.Ref as string;
      expect(raw.Resources[logGroupId]?.Properties.RetentionInDays).toBe(30);
    }
  });

  it('bundles every function into one ESM file with a source map, under 3 MB', () => {
    const functions = resourcesOf('AWS::Lambda::Function').filter(
      ([id]) => !id.startsWith('BucketNotificationsHandler'),
    );
    for (const [, fn] of functions) {
      const hash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, '');
      const dir = join(cdkOut, `asset.${hash}`);
      expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
      expect(statSync(join(dir, 'index.mjs')).size).toBeLessThan(3 * 1024 * 1024);
    }
  });

  it('grants each API function only what its route touches', () => {
    const [getTask] = functionByDescription('GET task status');
    expect(actionsOf(getTask)).toEqual([
      'dynamodb:GetItem',
      's3:GetObject',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    // A figure's link: the task row, and a head and presigned GET of the stored picture.
    const [getFigure] = functionByDescription('GET figure');
    expect(actionsOf(getFigure)).toEqual([
      'dynamodb:GetItem',
      's3:GetObject',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    const [list] = functionByDescription('GET tasks');
    expect(actionsOf(list)).toEqual(['dynamodb:Query', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    // Cancel changes a status, so it announces it: the bus, and the webhook queue (nothing else of SQS).
    const [cancel] = functionByDescription('POST cancel');
    expect(actionsOf(cancel)).toEqual([
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      'events:PutEvents',
      'sqs:SendMessage',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    expect(
      JSON.stringify(statementsOf(cancel).filter((statement) => statement.Action === 'sqs:SendMessage')),
    ).toContain('WebhookDeliveries');
    const [upload] = functionByDescription('POST upload:');
    expect(actionsOf(upload)).toEqual(
      expect.arrayContaining([
        'dynamodb:PutItem',
        'dynamodb:DeleteItem',
        's3:PutObject',
        's3:DeleteObject',
        'sqs:SendMessage',
      ]),
    );
    expect(actionsOf(upload)).not.toContain('dynamodb:UpdateItem');
    const s3Statements = statementsOf(upload).filter((statement) => String(statement.Action).startsWith('s3:'));
    expect(JSON.stringify(s3Statements)).toContain('/direct/*');
    expect(JSON.stringify(s3Statements)).not.toContain('/results/*');
  });

  it('lets the preview read s3:// sources, and nothing else: no table, no queue, none of the service prefixes', () => {
    const [preview] = functionByDescription('POST preview:');
    expect(actionsOf(preview)).toEqual([
      's3:GetObject',
      's3:ListBucket',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    const text = JSON.stringify(statementsOf(preview));
    expect(text).toContain('/inbox/*');
    for (const prefix of ['/direct/*', '/uploads/*', '/results/*']) expect(text).not.toContain(prefix);
    // Sized for parsing, and stopped where API Gateway stops waiting.
    expect(raw.Resources[preview]?.Properties).toMatchObject({ MemorySize: 1024, Timeout: 29 });
  });

  it('keeps the parsers and the sandbox out of every API function but the preview', () => {
    const parsing = ['Processes documents', 'Reads the parts of documents', 'POST preview:'];
    const others = resourcesOf('AWS::Lambda::Function').filter(
      ([id, fn]) =>
        !id.startsWith('BucketNotificationsHandler') &&
        !parsing.some((text) => String(fn.Properties.Description).startsWith(text)),
    );
    expect(others.length).toBe(20);
    for (const [id, fn] of others) {
      const bundle = readFileSync(
        join(cdkOut, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`, 'index.mjs'),
        'utf8',
      );
      // pdf.js's worker class, mammoth by name, and the role a thread of the processing core is started with.
      for (const marker of ['PDFWorker', 'mammoth', 'docproc:role'])
        expect(bundle.includes(marker), `${id}: ${marker}`).toBe(false);
    }
  });

  it('lets workers read inputs and write results, and nothing else', () => {
    const [worker] = functionByDescription('Processes documents from the standard');
    expect(actionsOf(worker)).toEqual(
      [
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'events:PutEvents', // its status changes, on the bus
        's3:DeleteObject',
        's3:GetObject', // inputs (uploads/, direct/), s3:// sources (inbox/), cached results (results/), one statement (minimizePolicies)
        's3:ListBucket',
        's3:PutObject',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
        'sqs:SendMessage', // webhook deliveries only (below)
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    const text = JSON.stringify(statementsOf(worker));
    expect(text).toContain('/results/*');
    expect(text).toContain('/uploads/*');
    expect(text).toContain('/inbox/*');
    expect(text).not.toMatch(/"Arn"\]\},"\/\*"/); // no grant on every object of the bucket
    const sends = JSON.stringify(statementsOf(worker).filter((statement) => statement.Action === 'sqs:SendMessage'));
    expect(sends).toContain('WebhookDeliveries');
    expect(sends).not.toMatch(/QueuesStandard|QueuesLarge/);
    const puts = JSON.stringify(statementsOf(worker).filter((statement) => statement.Action === 'events:PutEvents'));
    expect(puts).toContain('EventsBus');
  });

  it('derives each queue visibility timeout from its consumer: six times its timeout', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 1800,
      RedrivePolicy: { maxReceiveCount: 3 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 5400,
      RedrivePolicy: { maxReceiveCount: 3 },
    });
    const [worker] = functionByDescription('Processes documents from the standard');
    expect(raw.Resources[worker]?.Properties.Timeout).toBe(300);
    for (const [, queue] of resourcesOf('AWS::SQS::Queue')) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    const deadLetterTargets = resourcesOf('AWS::SQS::Queue').filter(([, queue]) => queue.Properties.RedrivePolicy);
    expect(deadLetterTargets).toHaveLength(6);
  });

  it('triggers workers with batch size, max concurrency and partial batch failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 10 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 2 } });
    for (const [, mapping] of resourcesOf('AWS::Lambda::EventSourceMapping')) {
      expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    }
  });

  it('keeps the bucket private, encrypted, TLS-only, expiring by prefix, and notifying on uploads', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'uploads/', ExpirationInDays: 7, Status: 'Enabled' }),
          Match.objectLike({ Prefix: 'direct/', ExpirationInDays: 7 }),
          Match.objectLike({ Prefix: 'results/', ExpirationInDays: 7 }),
        ]),
      },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'documents/' }),
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        QueueConfigurations: [
          Match.objectLike({
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } },
          }),
        ],
      },
    });
  });

  it('keeps tasks on demand, recoverable, expiring by TTL, listable by status and date', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      SSESpecification: { SSEEnabled: true },
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({
          IndexName: 'by_owner',
          KeySchema: [
            { AttributeName: 'owner', KeyType: 'HASH' },
            { AttributeName: 'created_at', KeyType: 'RANGE' },
          ],
        }),
        Match.objectLike({
          IndexName: 'by_owner_status',
          KeySchema: [
            { AttributeName: 'owner_status', KeyType: 'HASH' },
            { AttributeName: 'created_at', KeyType: 'RANGE' },
          ],
        }),
        Match.objectLike({
          IndexName: 'by_status',
          KeySchema: [
            { AttributeName: 'status', KeyType: 'HASH' },
            { AttributeName: 'created_at', KeyType: 'RANGE' },
          ],
        }),
      ]),
    });
  });

  it('requires the API key on every method and throttles through a usage plan', () => {
    const methods = resourcesOf('AWS::ApiGateway::Method');
    expect(methods).toHaveLength(16);
    for (const [, method] of methods) expect(method.Properties.ApiKeyRequired).toBe(true);
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 50, BurstLimit: 100 } });
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      MinimumCompressionSize: 1024,
      BinaryMediaTypes: ['multipart/form-data'],
    });
  });

  it("answers API Gateway's own errors in the service's error shape", () => {
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX']) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseTemplates: {
          'application/json': Match.stringLikeRegexp('"error":\\{"code":"\\$context.error.responseType"'),
        },
      });
    }
  });

  it('exposes the routes of API.md', () => {
    const paths = resourcesOf('AWS::ApiGateway::Resource').map(
      ([, resource]) => resource.Properties.PathPart as string,
    );
    expect(paths).toEqual(
      expect.arrayContaining([
        'documents',
        'async',
        'upload',
        'process',
        'upload-url',
        'tasks',
        '{task_id}',
        'cancel',
        'retry',
        'deliveries',
        '{delivery_id}',
        'redeliver',
        'preview',
      ]),
    );
  });

  it('outputs what clients and operators need', () => {
    expect(Object.keys(raw.Outputs).sort()).toEqual(
      [
        'AlarmTopicArn',
        'ApiKeyId',
        'ApiUrl',
        'BucketName',
        'DashboardName',
        'DeadLetterQueueUrl',
        'EventBusName',
        'LargeDeadLetterQueueUrl',
        'LargeQueueUrl',
        'PagesQueueUrl',
        'QueueUrl',
        'TableName',
        'WebhookSecretArn',
      ].sort(),
    );
  });

  it('keeps the webhook delivery log beside the tasks: keyed by task and delivery, expiring, recoverable', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'task_id', KeyType: 'HASH' },
        { AttributeName: 'delivery_id', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('creates the webhook secret, and lets the webhook consumer alone read it', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 44, ExcludePunctuation: true, IncludeSpace: false },
    });
    const [secretId] = resourcesOf('AWS::SecretsManager::Secret')[0]!;
    const readers = resourcesOf('AWS::Lambda::Function').filter(([id]) =>
      actionsOf(id).includes('secretsmanager:GetSecretValue'),
    );
    const [consumer] = functionByDescription('Sends signed webhooks');
    expect(readers.map(([id]) => id)).toEqual([consumer]);
    const grant = statementsOf(consumer).find((statement) => statement.Action === 'secretsmanager:GetSecretValue');
    expect(grant?.Resource).toEqual({ Ref: secretId });
  });

  it('lets the webhook consumer read tasks, keep the log, presign results and queue its own retries, and nothing else', () => {
    const [consumer] = functionByDescription('Sends signed webhooks');
    expect([...new Set(actionsOf(consumer))]).toEqual(
      [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        's3:GetObject',
        'secretsmanager:GetSecretValue',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
        'sqs:SendMessage',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    const text = JSON.stringify(statementsOf(consumer));
    expect(text).toContain('/results/*');
    for (const prefix of ['/direct/*', '/uploads/*', '/inbox/*']) expect(text).not.toContain(prefix);
    const writes = statementsOf(consumer).filter((statement) =>
      [statement.Action].flat().some((action) => action === 'dynamodb:PutItem'),
    );
    const [deliveriesTable] = resourcesOf('AWS::DynamoDB::Table').find(([id]) => id.includes('Deliveries'))!;
    expect(JSON.stringify(writes)).toContain(deliveriesTable);
    expect(JSON.stringify(writes)).not.toContain('Tasks');
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 5,
      ScalingConfig: { MaximumConcurrency: 5 },
      FunctionName: { Ref: consumer },
    });
  });

  it('lets the delivery-log routes read the log, and redeliver queue to the consumer (no secret)', () => {
    const [list] = functionByDescription('GET deliveries');
    expect(actionsOf(list)).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    const [redeliver] = functionByDescription('POST redeliver');
    expect([...new Set(actionsOf(redeliver))]).toEqual([
      'dynamodb:GetItem',
      'sqs:SendMessage',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    const [queueId] = resourcesOf('AWS::SQS::Queue').find(([id]) => /WebhookDeliveries[0-9A-F]{8}$/.test(id))!;
    expect(JSON.stringify(statementsOf(redeliver))).toContain(queueId);
  });

  it('lets the batch-jobs function list only the readable prefixes, read only batch lists, and queue work', () => {
    const [batchJobs] = functionByDescription("Creates a batch's tasks");
    const statements = statementsOf(batchJobs) as Array<{
      Action: string | string[];
      Resource: unknown;
      Condition?: unknown;
    }>;
    const listing = statements.filter((statement) => statement.Action === 's3:ListBucket');
    // Never the whole bucket: ListObjectsV2 only with a Prefix under a readable location.
    expect(listing).toEqual([expect.objectContaining({ Condition: { StringLike: { 's3:prefix': ['inbox/*'] } } })]);
    const reads = JSON.stringify(statements.filter((statement) => statement.Action === 's3:GetObject'));
    expect(reads).toContain('/batches/*');
    expect(reads).not.toContain('/inbox/*');
    const text = JSON.stringify(statements);
    for (const prefix of ['/direct/*', '/uploads/*', '/results/*']) expect(text).not.toContain(prefix);
    const sends = JSON.stringify(statements.filter((statement) => statement.Action === 'sqs:SendMessage'));
    for (const queue of ['QueuesStandard', 'QueuesLarge', 'QueuesBatchJobs', 'WebhookDeliveries']) {
      expect(sends).toContain(queue);
    }
    expect(raw.Resources[batchJobs]?.Properties).toMatchObject({ Timeout: 300 });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: batchJobs },
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 4 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('keeps batch children findable by batch, in listing order, and their counts readable in one call', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({
          IndexName: 'by_batch',
          KeySchema: [
            { AttributeName: 'batch_id', KeyType: 'HASH' },
            { AttributeName: 'batch_position', KeyType: 'RANGE' },
          ],
        }),
      ]),
    });
    const [getBatch] = functionByDescription('GET batch:');
    expect(actionsOf(getBatch).filter((action) => action.startsWith('dynamodb:'))).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
    ]);
  });

  it('runs the janitor on a schedule', () => {
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
  });
});
