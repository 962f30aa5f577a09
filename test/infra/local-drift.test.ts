import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_BASE_PATH, ROUTES } from '../../lib/definitions.js';
import { LOCAL_ONLY_VARIABLES } from '../../local/functions.js';
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

  it('creates the table with the same key, indexes and TTL attribute', async () => {
    const [, table] = ofType('AWS::DynamoDB::Table')[0]!;
    const client = new DynamoDBClient({
      endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    const { Table } = await client.send(new DescribeTableCommand({ TableName: local.tableName }));
    client.destroy();
    expect(Table?.KeySchema).toEqual(table.Properties.KeySchema);
    const indexes = (list: Array<{ IndexName: string; KeySchema: unknown; Projection: { ProjectionType: string } }>) =>
      list
        .map((index) => ({ name: index.IndexName, keys: index.KeySchema, projection: index.Projection.ProjectionType }))
        .sort((a, b) => a.name.localeCompare(b.name));
    expect(indexes(Table?.GlobalSecondaryIndexes as never)).toEqual(indexes(table.Properties.GlobalSecondaryIndexes));
    expect(table.Properties.TimeToLiveSpecification.AttributeName).toBe('ttl');
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
    const localRoutes = ROUTES.map((route) => `${route.method} /${API_BASE_PATH}/${route.path}`).sort();
    expect(localRoutes).toEqual(cdkRoutes);
    expect(Object.keys(local.functions.routes).sort()).toEqual(ROUTES.map((route) => route.handler).sort());
  });

  it('gives every function the same environment as the CDK stack', () => {
    const byDescription: Record<string, keyof typeof local.functions | `route:${string}`> = {
      'POST upload:': 'route:upload',
      'POST process': 'route:process',
      'POST upload-url': 'route:uploadUrl',
      'GET task ': 'route:getTask',
      'GET tasks': 'route:listTasks',
      'POST cancel': 'route:cancelTask',
      'POST retry': 'route:retryTask',
      'Processes documents from the standard': 'worker',
      'Processes documents from the large': 'largeWorker',
      'Marks dead-lettered': 'deadLetters',
      'Starts tasks when presigned': 'uploadEvents',
      'Expires abandoned uploads': 'janitor',
    };
    const functions = ofType('AWS::Lambda::Function').filter(([id]) => !id.startsWith('BucketNotificationsHandler'));
    expect(functions).toHaveLength(Object.keys(byDescription).length);
    for (const [, fn] of functions) {
      const description = String(fn.Properties.Description);
      const key = Object.entries(byDescription).find(([prefix]) => description.startsWith(prefix))?.[1];
      expect(key, description).toBeDefined();
      const localFn = key!.startsWith('route:')
        ? local.functions.routes[key!.slice(6) as keyof typeof local.functions.routes]
        : local.functions[key as 'worker'];
      const cdkEnv: Record<string, unknown> = fn.Properties.Environment.Variables;
      const ignored = new Set(['NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE']);
      const cdkNames = Object.keys(cdkEnv)
        .filter((name) => !ignored.has(name))
        .sort();
      const localNames = Object.keys(localFn.environment)
        .filter((name) => !LOCAL_ONLY_VARIABLES.includes(name) && !ignored.has(name))
        .sort();
      expect(localNames, description).toEqual(cdkNames);
      for (const name of cdkNames) {
        if (typeof cdkEnv[name] === 'string')
          expect(localFn.environment[name], `${description}: ${name}`).toBe(cdkEnv[name]);
      }
      expect(localFn.timeoutMs, description).toBe(fn.Properties.Timeout * 1000);
    }
  });
});
