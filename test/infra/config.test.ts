import { Template } from 'aws-cdk-lib/assertions';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig, readDeploymentConfig } from '../../lib/config.js';
import {
  formatSourceLocations,
  isReadableSource,
  parseSourceLocations,
  sourceLocations,
} from '../../shared/definitions.js';
import { accessStatements, functionCatalogue, type FunctionResources } from '../../lib/function-catalogue.js';
import { ARTIFACTS, synthesizeApp } from '../support/synth.js';

describe('deployment configuration', () => {
  it('has defaults for everything', () => {
    expect(parseDeploymentConfig({})).toMatchObject({ workerConcurrency: 10, apiAuth: 'apiKey', maxReceiveCount: 3 });
  });

  it('lets -c key=value strings override cdk.json', () => {
    const context: Record<string, unknown> = {
      docproc: { workerConcurrency: 4, allowedSourceBuckets: ['partner-a'] },
      workerConcurrency: '7',
      allowedSourceBuckets: 'partner-x, partner-y/reports/',
    };
    const config = readDeploymentConfig((key) => context[key]);
    expect(config.workerConcurrency).toBe(7);
    expect(config.allowedSourceBuckets).toEqual(['partner-x', 'partner-y/reports/']);
  });

  it.each([
    [{ softTimeLimitMarginSeconds: 200, workerTimeoutSeconds: 300 }, 'softTimeLimitMarginSeconds'],
    [{ urlFetchTimeoutSeconds: 290 }, 'urlFetchTimeoutSeconds'],
    [{ resultRetentionDays: 3, taskRetentionDays: 7 }, 'resultRetentionDays'],
    [{ resultCacheTtlHours: 169, resultRetentionDays: 7 }, 'resultCacheTtlHours'],
    [{ resultCacheTtlHours: -1 }, 'resultCacheTtlHours'],
    [{ directUploadMaxMb: 10 }, 'directUploadMaxMb'],
    [{ workerConcurrency: 1 }, 'workerConcurrency'],
    [{ logRetentionDays: 10 }, 'logRetentionDays'],
    [{ apiAuth: 'iam' }, 'apiAuth'],
    [{ workerConcurency: 5 }, 'workerConcurency'],
  ])('refuses %j, naming %s', (input, key) => {
    expect(() => parseDeploymentConfig(input)).toThrow(key);
  });

  it('with apiAuth=none: no key, no usage plan, the stage throttles instead', () => {
    const { assembly } = synthesizeApp(join(ARTIFACTS, 'cdk.out.noauth'), { apiAuth: 'none' }, false);
    const template = Template.fromJSON(assembly.getStackByName('DocProc').template);
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', 0);
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [{ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100, HttpMethod: '*', ResourcePath: '/*' }],
    });
    for (const method of Object.values(template.findResources('AWS::ApiGateway::Method'))) {
      expect(method.Properties.ApiKeyRequired).toBeFalsy();
    }
  });

  it('adds CORS preflight only when origins are configured', () => {
    const count = (config: Record<string, unknown>, dir: string) => {
      const { assembly } = synthesizeApp(join(ARTIFACTS, dir), config, false);
      const template = Template.fromJSON(assembly.getStackByName('DocProc').template);
      return Object.values(template.findResources('AWS::ApiGateway::Method')).filter(
        (method) => method.Properties.HttpMethod === 'OPTIONS',
      ).length;
    };
    expect(count({}, 'cdk.out.nocors')).toBe(0);
    expect(count({ corsOrigins: ['https://app.example.com'] }, 'cdk.out.cors')).toBeGreaterThan(0);
  });
});

describe('s3:// source locations', () => {
  it.each([
    [{ sourcePrefixes: ['results/'] }, 'sourcePrefixes'],
    [{ sourcePrefixes: ['direct/partner/'] }, 'sourcePrefixes'],
    [{ sourcePrefixes: ['inbox'] }, 'sourcePrefixes'],
    [{ sourcePrefixes: ['/abs/'] }, 'sourcePrefixes'],
    [{ allowedSourceBuckets: ['Not_A_Bucket'] }, 'allowedSourceBuckets'],
    [{ allowedSourceBuckets: ['partner/no-slash'] }, 'allowedSourceBuckets'],
    [{ sourceKmsKeyArns: ['alias/partner'] }, 'sourceKmsKeyArns'],
    [{ presignedUrlTtlSeconds: 7200 }, 'presignedUrlTtlSeconds'],
  ])('refuses %j, naming %s', (input, key) => {
    expect(() => parseDeploymentConfig(input)).toThrow(key);
  });

  it('lets the functions that read sources (the workers, the page worker, the preview), and only them, decrypt with the KMS keys of partner buckets (in any partition)', () => {
    const key = 'arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const config = parseDeploymentConfig({ allowedSourceBuckets: ['partner'], sourceKmsKeyArns: [key] });
    const resources: FunctionResources = {
      partition: 'aws-cn',
      region: 'cn-north-1',
      account: '123456789012',
      destinations: {},
      tableName: 't',
      tableArn: 'arn:aws-cn:dynamodb:cn-north-1:123456789012:table/t',
      bucketName: 'service',
      bucketArn: 'arn:aws-cn:s3:::service',
      queues: {
        standard: { url: 'u', arn: 'a' },
        large: { url: 'u', arn: 'a' },
        pages: { url: 'u', arn: 'a' },
        webhookDeliveries: { url: 'u', arn: 'a' },
        batchJobs: { url: 'u', arn: 'a' },
      },
      deliveriesTableName: 'd',
      deliveriesTableArn: 'arn:aws-cn:dynamodb:cn-north-1:123456789012:table/d',
      webhookSecretArn: 'arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:s-abcdef',
      eventBus: { name: 'b', arn: 'arn:aws-cn:events:cn-north-1:123456789012:event-bus/b' },
      sources: config,
    };
    for (const [name, spec] of Object.entries(functionCatalogue(config))) {
      const statements = accessStatements(spec.access, resources);
      const decrypt = statements.filter((statement) => statement.actions.includes('kms:Decrypt'));
      const readsSources = ['worker', 'largeWorker', 'pageWorker', 'preview'].includes(name);
      expect(decrypt, name).toEqual(readsSources ? [{ actions: ['kms:Decrypt'], resources: [key] }] : []);
      for (const statement of statements) {
        for (const resource of statement.resources) expect(resource.startsWith('arn:aws:'), resource).toBe(false);
      }
    }
  });

  it('keeps results for the cache 24 hours by default: the workers may read results/ (a hit copies one), and only then', () => {
    for (const [input, ttlSeconds] of [
      [{}, 24 * 3600],
      [{ resultCacheTtlHours: 168 }, 168 * 3600],
      [{ resultCacheTtlHours: 0 }, 0],
    ] as const) {
      const catalogue = functionCatalogue(parseDeploymentConfig(input));
      for (const worker of [catalogue.worker, catalogue.largeWorker]) {
        expect(worker.environment.RESULT_CACHE_TTL_SECONDS).toBe(ttlSeconds);
        expect(worker.access.bucket?.read?.includes('results/')).toBe(ttlSeconds > 0);
      }
    }
  });

  it('reads the inbox of the service bucket by default, and the partner places given', () => {
    const config = parseDeploymentConfig({ allowedSourceBuckets: ['partner', 'other/reports/'] });
    expect(sourceLocations('service', config)).toEqual([
      { bucket: 'service', prefix: 'inbox/' },
      { bucket: 'partner', prefix: '' },
      { bucket: 'other', prefix: 'reports/' },
    ]);
    const round = parseSourceLocations(formatSourceLocations(sourceLocations('service', config)));
    expect(round).toEqual(sourceLocations('service', config));
    expect(isReadableSource(round, 'service', 'inbox/a.pdf')).toBe(true);
    expect(isReadableSource(round, 'service', 'results/a.json')).toBe(false);
    expect(isReadableSource(round, 'other', 'reports/q3.pdf')).toBe(true);
    expect(isReadableSource(round, 'other', 'private/q3.pdf')).toBe(false);
    expect(isReadableSource(round, 'partner', 'anything.pdf')).toBe(true);
  });
});
