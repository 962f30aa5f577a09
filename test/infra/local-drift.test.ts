import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ROUTES } from '../../shared/definitions.js';
import { functionCatalogue, type FunctionName } from '../../lib/function-catalogue.js';
import { parseEnvironment } from '../../shared/environment.js';
import { LOCAL_ONLY_VARIABLES, RUNTIME_VARIABLES } from '../../local/functions.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { ensureSynth } from '../support/synth.js';

type Resource = { Type: string; Properties: Record<string, any> };
let resources: Record<string, Resource>;
let local: LocalStack;

const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);

beforeAll(async () => {
  const cdkOut = await ensureSynth(inject('runId'));
  resources = JSON.parse(readFileSync(join(cdkOut, 'DocProc.template.json'), 'utf8')).Resources;
  local = await startLocalStack({ port: 0, config: { apiAuth: 'apiKey' }, apiKeys: ['k'] });
});
afterAll(async () => local?.stop());

describe('the embedded stack is built from the definitions the CDK stack uses', () => {
  it('creates the queues with the same visibility, retention, long polling and redrive', async () => {
    const summary = (attributes: Record<string, any>, redrive: unknown) => ({
      visibility: Number(attributes.VisibilityTimeout),
      retention: Number(attributes.MessageRetentionPeriod),
      wait: Number(attributes.ReceiveMessageWaitTimeSeconds),
      maxReceiveCount: redrive
        ? Number((typeof redrive === 'string' ? JSON.parse(redrive) : redrive).maxReceiveCount)
        : undefined,
    });
    const cdk = ofType('AWS::SQS::Queue')
      .filter(([, queue]) => queue.Properties.RedrivePolicy)
      .map(([, queue]) => summary(queue.Properties, queue.Properties.RedrivePolicy));
    const localQueues = await Promise.all(
      Object.values(local.queues).map(async (queue) => {
        const { Attributes = {} } = await local.clients.sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['All'] }),
        );
        return summary(Attributes, Attributes.RedrivePolicy);
      }),
    );
    const order = (items: Array<Record<string, unknown>>) => items.map((item) => JSON.stringify(item)).sort();
    expect(order(localQueues)).toEqual(order(cdk));
  });

  it('creates the tables with the same keys, indexes and TTL attribute', async () => {
    const indexes = (list: Array<{ IndexName: string; KeySchema: unknown; Projection: { ProjectionType: string } }>) =>
      (list ?? [])
        .map((index) => ({ name: index.IndexName, keys: index.KeySchema, projection: index.Projection.ProjectionType }))
        .sort((a, b) => a.name.localeCompare(b.name));
    const tables = ofType('AWS::DynamoDB::Table');
    expect(tables).toHaveLength(2);
    for (const [id, name] of [
      ['StorageTasks', local.tableName],
      ['StorageDeliveries', local.deliveriesTableName],
    ] as const) {
      const [, table] = tables.find(([logicalId]) => logicalId.startsWith(id))!;
      const { Table } = await local.clients.dynamo.send(new DescribeTableCommand({ TableName: name }));
      expect(Table?.KeySchema, name).toEqual(table.Properties.KeySchema);
      expect(indexes(Table?.GlobalSecondaryIndexes as never), name).toEqual(
        indexes(table.Properties.GlobalSecondaryIndexes),
      );
      expect(table.Properties.TimeToLiveSpecification.AttributeName).toBe('ttl');
    }
  });

  it('serves the same routes', () => {
    const parts = new Map(ofType('AWS::ApiGateway::Resource').map(([id, resource]) => [id, resource.Properties]));
    const pathOf = (id: string): string => {
      const resource = parts.get(id);
      if (!resource) return '';
      const parent = resource.ParentId.Ref ? pathOf(resource.ParentId.Ref as string) : '';
      return `${parent}/${resource.PathPart}`;
    };
    const cdkRoutes = ofType('AWS::ApiGateway::Method')
      .map(([, method]) => `${method.Properties.HttpMethod} ${pathOf(method.Properties.ResourceId.Ref as string)}`)
      .sort();
    const localRoutes = ROUTES.map((route) => `${route.method} /${route.path}`).sort();
    expect(localRoutes).toEqual(cdkRoutes);
    for (const route of ROUTES) expect(local.functions[route.handler], route.handler).toBeDefined();
  });

  it('runs every function of the CDK stack, paired by name, with the same environment, timeout and memory', () => {
    const functions = ofType('AWS::Lambda::Function').filter(([id]) => !id.startsWith('BucketNotificationsHandler'));
    const nameOf = (fn: { Properties: { Tags?: Array<{ Key: string; Value: string }> } }) =>
      fn.Properties.Tags?.find((tag) => tag.Key === 'docproc:function')?.Value as FunctionName | undefined;
    expect(functions.map(([, fn]) => nameOf(fn)).sort()).toEqual(Object.keys(local.functions).sort());
    for (const [, fn] of functions) {
      const name = nameOf(fn)!;
      const localFn = local.functions[name];
      const cdkEnv: Record<string, unknown> = fn.Properties.Environment.Variables;
      const ignored = new Set(['NODE_OPTIONS', ...LOCAL_ONLY_VARIABLES, ...RUNTIME_VARIABLES]);
      const relevant = (names: string[]) =>
        names.filter((variable) => !ignored.has(variable) && !variable.startsWith('POWERTOOLS_')).sort();
      expect(relevant(Object.keys(localFn.environment)), name).toEqual(relevant(Object.keys(cdkEnv)));
      for (const variable of relevant(Object.keys(cdkEnv))) {
        if (typeof cdkEnv[variable] === 'string')
          expect(localFn.environment[variable], `${name}: ${variable}`).toBe(cdkEnv[variable]);
      }
      expect(localFn.timeoutMs, name).toBe(fn.Properties.Timeout * 1000);
      expect(localFn.memoryMb, name).toBe(fn.Properties.MemorySize);
    }
  });

  it('gives each function only variables its environment schema reads, and every one it requires', () => {
    const catalogue = functionCatalogue(local.config);
    const ignored = new Set(['NODE_OPTIONS', ...LOCAL_ONLY_VARIABLES, ...RUNTIME_VARIABLES]);
    for (const [name, localFn] of Object.entries(local.functions) as Array<
      [FunctionName, (typeof local.functions)[FunctionName]]
    >) {
      const schema = catalogue[name].environmentSchema;
      const given = Object.keys(localFn.environment).filter(
        (variable) => !ignored.has(variable) && !variable.startsWith('POWERTOOLS_'),
      );
      expect(
        given.filter((variable) => !(variable in schema.shape)),
        name,
      ).toEqual([]);
      expect(() => parseEnvironment(schema, localFn.environment), name).not.toThrow();
    }
  });
});
