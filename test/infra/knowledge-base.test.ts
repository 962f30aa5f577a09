import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '../../lib/config.js';
import { ARTIFACTS, synthesizeApp } from '../support/synth.js';

/**
 * The knowledge-base wiring of the CDK stack: destinations the workers write
 * to and sync, and the transformation with its data source, granted exactly
 * what they touch, cfn-lint and cdk-nag clean.
 */
const KB = 'KBABCDE123';
const CONFIG = {
  kbDestinations: {
    legal: {
      bucket: 'acme-kb-legal',
      prefix: 'docproc/',
      keys: ['a1b2c3d4e5'],
      knowledgeBaseId: KB,
      dataSourceId: 'DSABCDE123',
      kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    },
  },
  kbTransformation: { dataSource: { knowledgeBaseId: KB, destination: 'legal' } },
  // Bedrock for figures too, in the same stack (one synthesis for both).
  figureModelId: 'us.anthropic.claude-3-haiku-20240307-v1:0',
};

type Resource = { Type: string; Properties: Record<string, any> };
let resources: Record<string, Resource>;
let outdir: string;

const byType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
const fnByDescription = (text: string): [string, Resource] => {
  const found = byType('AWS::Lambda::Function').find(([, fn]) =>
    String(fn.Properties.Description ?? '').startsWith(text),
  );
  if (!found) throw new Error(`no function described as ${text}`);
  return found;
};
const statementsOf = (functionId: string) => {
  const roleRef = resources[functionId]?.Properties.Role['Fn::GetAtt'][0];
  return byType('AWS::IAM::Policy')
    .filter(([, policy]) => policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleRef))
    .flatMap(
      ([, policy]) =>
        policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>,
    );
};
const actions = (functionId: string) =>
  [...new Set(statementsOf(functionId).flatMap(({ Action }) => (Array.isArray(Action) ? Action : [Action])))].sort();

beforeAll(() => {
  outdir = join(ARTIFACTS, 'cdk.out.kb');
  const { assembly } = synthesizeApp(outdir, CONFIG, false);
  resources = assembly.getStackByName('DocProc').template.Resources as Record<string, Resource>;
});

describe('knowledge bases in the CDK stack', () => {
  it('lets the workers write under each destination prefix and start the syncs of the knowledge bases named, no more', () => {
    const [worker] = fnByDescription('Processes documents from the standard queue');
    const statements = JSON.stringify(statementsOf(worker));
    expect(statements).toContain('arn:aws:s3:::acme-kb-legal/docproc/*');
    expect(statements).toContain(`:knowledge-base/${KB}`);
    expect(actions(worker)).toEqual(
      expect.arrayContaining(['bedrock:StartIngestionJob', 'kms:GenerateDataKey', 'dynamodb:BatchGetItem']),
    );
    // Of Bedrock, the syncs (and the figure model's Converse, see below).
    expect(actions(worker).filter((action) => action.startsWith('bedrock:'))).toEqual([
      'bedrock:InvokeModel',
      'bedrock:StartIngestionJob',
    ]);
    // Only the runs that end tasks: the API routes read the destinations, they never write them.
    const [upload] = fnByDescription('POST upload');
    expect(JSON.stringify(statementsOf(upload))).not.toContain('acme-kb-legal');
    expect(resources[upload]?.Properties.Environment.Variables.KB_DESTINATIONS).toContain('"legal"');
  });

  it('lets the workers converse with the figure model (its inference profile and the model behind it), and tells the API', () => {
    for (const description of [
      'Processes documents from the standard queue',
      'Processes documents from the large queue',
    ]) {
      const [worker, fn] = fnByDescription(description);
      const invoke = statementsOf(worker).filter(({ Action }) => [Action].flat().includes('bedrock:InvokeModel'));
      const arns = JSON.stringify(invoke.map(({ Resource }) => Resource));
      expect(arns).toContain(':inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0');
      expect(arns).toContain(':bedrock:*::foundation-model/anthropic.claude-3-haiku-20240307-v1:0');
      expect(fn.Properties.Environment.Variables.FIGURE_MODEL_ID).toBe('us.anthropic.claude-3-haiku-20240307-v1:0');
    }
    const [upload, fn] = fnByDescription('POST upload');
    expect(actions(upload).filter((action) => action === 'bedrock:InvokeModel')).toEqual([]);
    expect(fn.Properties.Environment.Variables.FIGURE_MODEL_ID).toBe('us.anthropic.claude-3-haiku-20240307-v1:0');
  });

  it("grants the transformation the task row, the results and the KB's intermediate bucket, nothing else", () => {
    const [transform, fn] = fnByDescription("A knowledge base's post-chunking step");
    expect(actions(transform)).toEqual(
      ['dynamodb:GetItem', 's3:GetObject', 's3:PutObject', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'].sort(),
    );
    const writes = statementsOf(transform).filter(({ Action }) => [Action].flat().includes('s3:PutObject'));
    expect(JSON.stringify(writes)).toContain('KnowledgeBaseIntermediate');
    expect(JSON.stringify(writes)).not.toContain('Documents');
    expect(Object.keys(fn.Properties.Environment.Variables)).toEqual(
      expect.arrayContaining(['TABLE_NAME', 'BUCKET_NAME', 'KB_INTERMEDIATE_BUCKET']),
    );
    const [, permission] =
      byType('AWS::Lambda::Permission').find(([, p]) => p.Properties.Principal === 'bedrock.amazonaws.com') ?? [];
    expect(JSON.stringify(permission?.Properties.SourceArn)).toContain(`knowledge-base/${KB}`);
    expect(permission?.Properties.SourceAccount).toBe('123456789012');
  });

  it("creates the S3 data source over the destination, the KB's chunking off and the transformation after it", () => {
    const [[, source] = []] = byType('AWS::Bedrock::DataSource');
    expect(source?.Properties).toMatchObject({
      KnowledgeBaseId: KB,
      DataSourceConfiguration: {
        Type: 'S3',
        S3Configuration: { BucketArn: 'arn:aws:s3:::acme-kb-legal', InclusionPrefixes: ['docproc/'] },
      },
      VectorIngestionConfiguration: {
        ChunkingConfiguration: { ChunkingStrategy: 'NONE' },
        CustomTransformationConfiguration: {
          Transformations: [{ StepToApply: 'POST_CHUNKING' }],
        },
      },
    });
    const [intermediate] = byType('AWS::S3::Bucket').find(([id]) => id.startsWith('KnowledgeBaseIntermediate')) ?? [];
    expect(intermediate).toBeDefined();
    expect(resources[intermediate!]?.Properties.BucketEncryption).toBeDefined();
  });

  it('is cfn-lint and cdk-nag clean', () => {
    const template = join(outdir, 'DocProc.template.json');
    let output: string;
    try {
      output = execFileSync('cfn-lint', [template, '--format', 'json', '--ignore-checks', 'W3005'], {
        encoding: 'utf8',
      });
    } catch (error) {
      output = (error as { stdout?: string }).stdout ?? '[]';
    }
    expect(
      (JSON.parse(output) as Array<{ Rule: { Id: string }; Message: string }>).map((f) => `${f.Rule.Id} ${f.Message}`),
    ).toEqual([]);
    const report = join(outdir, 'validation-report.json');
    if (existsSync(report)) {
      const parsed = JSON.parse(readFileSync(report, 'utf8')) as { pluginReports: Array<{ violations?: unknown[] }> };
      expect(parsed.pluginReports.flatMap((plugin) => plugin.violations ?? [])).toEqual([]);
    }
  });

  it('refuses a configuration that would not deploy: an unknown data-source destination, too much environment', () => {
    expect(() =>
      parseDeploymentConfig({
        ...CONFIG,
        kbTransformation: { dataSource: { knowledgeBaseId: KB, destination: 'other' } },
      }),
    ).toThrow(/kbTransformation/);
    const many = Object.fromEntries(
      Array.from({ length: 40 }, (_, index) => [
        `d${index}`,
        { bucket: 'acme-kb-legal', prefix: `p${index}/`, keys: ['*'] },
      ]),
    );
    expect(() => parseDeploymentConfig({ kbDestinations: many })).toThrow(/kbDestinations/);
    expect(
      parseDeploymentConfig({ kbDestinations: JSON.stringify(CONFIG.kbDestinations) }).kbDestinations.legal?.bucket,
    ).toBe('acme-kb-legal');
  });
});
