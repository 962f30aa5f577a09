/**
 * The LocalStack path (needs Docker; this project's CI has none, so CI never runs it):
 *
 *   tsx scripts/localstack.ts wait     until LocalStack answers with every service the stack uses ready
 *   tsx scripts/localstack.ts deploy   cdklocal bootstrap + deploy, outputs in localstack-outputs.json
 *   tsx scripts/localstack.ts test     the integration suite against the deployed API
 *
 * (`npm run localstack:up`, `localstack:deploy`, `test:localstack`.)
 */
import { APIGatewayClient, GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { localstackApiUrl } from '../localstack/api-url.js';

const ENDPOINT = process.env.LOCALSTACK_ENDPOINT ?? 'http://localhost:4566';
const REGION = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
const ACCOUNT = '000000000000';
const STACK = process.env.STACK_NAME ?? 'DocProc';
const SERVICES = [
  's3',
  'sqs',
  'dynamodb',
  'lambda',
  'apigateway',
  'iam',
  'sts',
  'cloudformation',
  'logs',
  'events',
  'secretsmanager',
];

const wait = async (timeoutMs = 180_000) => {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const health = (await (await fetch(`${ENDPOINT}/_localstack/health`)).json()) as {
        services?: Record<string, string>;
      };
      const pending = SERVICES.filter((name) => !['available', 'running'].includes(health.services?.[name] ?? ''));
      if (!pending.length) return;
      last = `waiting for ${pending.join(', ')}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  throw new Error(`LocalStack at ${ENDPOINT} not ready after ${timeoutMs / 1000} s: ${last}`);
};

const run = (command: string, args: string[], extra: Record<string, string> = {}) => {
  // cdklocal drops AWS_REGION from the environment it gives the CDK CLI: name the region every way the CLI reads it.
  const env = {
    ...process.env,
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    CDK_DEFAULT_REGION: REGION,
    CDK_DEFAULT_ACCOUNT: ACCOUNT,
    AWS_ENDPOINT_URL: ENDPOINT,
    ...extra,
  };
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

const test = async () => {
  const outputs = JSON.parse(readFileSync('localstack-outputs.json', 'utf8')) as Record<string, Record<string, string>>;
  const stack = outputs[STACK];
  if (!stack?.ApiUrl) throw new Error('localstack-outputs.json has no ApiUrl: run npm run localstack:deploy first');
  let apiKey = '';
  if (stack.ApiKeyId) {
    const client = new APIGatewayClient({
      endpoint: ENDPOINT,
      region: REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    apiKey = (await client.send(new GetApiKeyCommand({ apiKey: stack.ApiKeyId, includeValue: true }))).value ?? '';
  }
  const apiUrl = localstackApiUrl(stack.ApiUrl, ENDPOINT);
  console.log(`integration suite against ${apiUrl}`);
  run('npx', ['vitest', 'run', '--project', 'integration'], { API_URL: apiUrl, API_KEY: apiKey });
};

const command = process.argv[2];
if (command === 'wait') await wait();
else if (command === 'deploy') {
  await wait();
  run('npx', ['cdklocal', 'bootstrap', `aws://${ACCOUNT}/${REGION}`]);
  run('npx', ['cdklocal', 'deploy', STACK, '--require-approval', 'never', '--outputs-file', 'localstack-outputs.json']);
} else if (command === 'test') await test();
else if (command !== undefined) {
  console.error('usage: tsx scripts/localstack.ts wait|deploy|test');
  process.exit(2);
}
