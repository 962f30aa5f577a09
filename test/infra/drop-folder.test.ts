import { Template } from 'aws-cdk-lib/assertions';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ANONYMOUS_OWNER } from '../../lambdas/core/task.js';
import { dropFolderOwner, parseDeploymentConfig, readDeploymentConfig } from '../../lib/config.js';
import { ARTIFACTS, ensureSynth, synthesizeApp } from '../support/synth.js';

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

/** The S3-notification consumer of a template: its function, its role's statements and its environment. */
const uploadEventsOf = (resources: Resources) => {
  const entries = Object.entries(resources);
  const [id, fn] = entries.find(
    ([, resource]) =>
      resource.Type === 'AWS::Lambda::Function' &&
      String(resource.Properties.Description).startsWith('Starts tasks when presigned uploads land'),
  )!;
  const role = fn.Properties.Role['Fn::GetAtt'][0] as string;
  const statements = entries
    .filter(
      ([, resource]) =>
        resource.Type === 'AWS::IAM::Policy' &&
        resource.Properties.Roles.some((ref: { Ref: string }) => ref.Ref === role),
    )
    .flatMap(
      ([, policy]) =>
        policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>,
    );
  const actions = [...new Set(statements.flatMap((statement) => [statement.Action].flat()))].sort();
  return { id, environment: fn.Properties.Environment.Variables as Record<string, unknown>, statements, actions };
};

const notificationPrefixes = (template: Template) =>
  Object.values(template.findResources('Custom::S3BucketNotifications')).flatMap((resource) =>
    (resource.Properties.NotificationConfiguration.QueueConfigurations as Array<Record<string, any>>).map(
      (configuration) => ({
        events: configuration.Events,
        prefix: configuration.Filter.Key.FilterRules[0].Value,
        queue: JSON.stringify(configuration.QueueArn),
      }),
    ),
  );

describe('drop folder configuration', () => {
  it('is off unless configured, and reads -c dropFolder=true|false as booleans', () => {
    expect(parseDeploymentConfig({}).dropFolder).toBe(false);
    const context: Record<string, unknown> = { docproc: { apiAuth: 'none' }, dropFolder: 'false' };
    expect(readDeploymentConfig((key) => context[key]).dropFolder).toBe(false);
    context.dropFolder = 'true';
    expect(readDeploymentConfig((key) => context[key]).dropFolder).toBe(true);
  });

  it('gives the tasks to the anonymous caller without API keys, and to the named key id with them', () => {
    expect(dropFolderOwner(parseDeploymentConfig({ apiAuth: 'none', dropFolder: true }))).toBe(ANONYMOUS_OWNER);
    expect(dropFolderOwner(parseDeploymentConfig({ dropFolder: true, dropFolderOwner: 'a1b2c3d4e5' }))).toBe(
      'a1b2c3d4e5',
    );
  });

  it.each([
    // With API keys, tasks no key owns would be listed by no one.
    [{ dropFolder: true }, 'dropFolderOwner'],
    [{ apiAuth: 'none', dropFolder: true, dropFolderOwner: 'a1b2c3d4e5' }, 'dropFolderOwner'],
    [{ dropFolder: true, dropFolderOwner: 'not a key id!' }, 'dropFolderOwner'],
    // The workers read dropped objects as s3:// sources.
    [{ apiAuth: 'none', dropFolder: true, sourcePrefixes: ['docs/'] }, 'dropFolder'],
    [{ dropFolder: 'yes' }, 'dropFolder'],
  ])('refuses %j, naming %s', (input, key) => {
    expect(() => parseDeploymentConfig(input)).toThrow(key);
  });
});

describe('drop folder in the CDK stack', () => {
  const OWNER = 'a1b2c3d4e5';
  let outdir: string;
  let resources: Resources;
  let template: Template;

  beforeAll(() => {
    outdir = join(ARTIFACTS, 'cdk.out.dropfolder');
    const { assembly } = synthesizeApp(outdir, { dropFolder: true, dropFolderOwner: OWNER }, false);
    const stack = assembly.getStackByName('DocProc');
    resources = stack.template.Resources;
    template = Template.fromJSON(stack.template);
  });

  it('sends ObjectCreated under inbox/ to the upload-events queue, beside the presigned uploads', () => {
    const prefixes = notificationPrefixes(template);
    expect(prefixes.map(({ prefix, events }) => [prefix, events]).sort()).toEqual([
      ['inbox/', ['s3:ObjectCreated:*']],
      ['uploads/', ['s3:ObjectCreated:*']],
    ]);
    expect(new Set(prefixes.map(({ queue }) => queue)).size).toBe(1);
    expect(prefixes[0]?.queue).toContain('QueuesUploadEvents');
  });

  it('lets the consumer create tasks from what a HEAD of an inbox/ object says, and nothing more', () => {
    const consumer = uploadEventsOf(resources);
    expect(consumer.actions).toEqual(
      [
        'dynamodb:DeleteItem', // the rollback of a task that could not be queued
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'events:PutEvents',
        's3:GetObject', // HeadObject, on inbox/ only
        's3:ListBucket',
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
    const reads = JSON.stringify(consumer.statements.filter((statement) => statement.Action === 's3:GetObject'));
    expect(reads).toContain('/inbox/*');
    for (const prefix of ['/uploads/*', '/direct/*', '/results/*']) expect(reads).not.toContain(prefix);
    expect(consumer.environment).toMatchObject({
      DROP_FOLDER: 'true',
      DROP_FOLDER_OWNER: OWNER,
      TASK_RETENTION_DAYS: '7',
    });
    expect(consumer.environment.BUCKET_NAME).toBeDefined();
  });

  it('passes cdk-nag and cfn-lint', () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports.flatMap((plugin: { violations?: unknown[] }) => plugin.violations ?? [])).toEqual([]);
    // As cfn-lint.test.ts runs it on the default template (W3005: the CDK's redundant DependsOn on roles).
    const path = join(outdir, 'DocProc.template.json');
    let output: string;
    try {
      output = execFileSync('cfn-lint', [path, '--format', 'json', '--ignore-checks', 'W3005'], { encoding: 'utf8' });
    } catch (error) {
      const failure = error as NodeJS.ErrnoException & { stdout?: string };
      if (failure.code === 'ENOENT')
        throw new Error('cfn-lint is not installed (pip install cfn-lint)', { cause: error });
      output = failure.stdout ?? '[]';
    }
    const findings = (JSON.parse(output) as Array<{ Level: string; Message: string; Rule: { Id: string } }>).map(
      (finding) => `${finding.Rule.Id} ${finding.Level}: ${finding.Message}`,
    );
    expect(findings).toEqual([]);
  });
});

describe('without the drop folder (the default)', () => {
  let resources: Resources;

  beforeAll(async () => {
    const cdkOut = await ensureSynth(inject('runId'));
    resources = JSON.parse(readFileSync(join(cdkOut, 'DocProc.template.json'), 'utf8')).Resources;
  });

  it('notifies on uploads/ only, and the consumer neither reads the bucket nor creates rows', () => {
    expect(notificationPrefixes(Template.fromJSON({ Resources: resources })).map(({ prefix }) => prefix)).toEqual([
      'uploads/',
    ]);
    const consumer = uploadEventsOf(resources);
    for (const action of ['s3:GetObject', 's3:ListBucket', 'dynamodb:PutItem', 'dynamodb:DeleteItem'])
      expect(consumer.actions).not.toContain(action);
    expect(consumer.environment).toMatchObject({ DROP_FOLDER: 'false' });
  });
});
