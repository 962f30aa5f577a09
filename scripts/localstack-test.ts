/**
 * `npm run test:localstack`: the integration suite against the stack that
 * `npm run localstack:deploy` deployed into LocalStack (outputs in
 * localstack-outputs.json).
 */
import { APIGatewayClient, GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const endpoint = process.env.LOCALSTACK_ENDPOINT ?? 'http://localhost:4566';
const outputs = JSON.parse(readFileSync('localstack-outputs.json', 'utf8')) as Record<string, Record<string, string>>;
const stack = outputs[process.env.STACK_NAME ?? 'DocProc'];
if (!stack?.ApiUrl) throw new Error('localstack-outputs.json has no ApiUrl: run npm run localstack:deploy first');

let apiKey = '';
if (stack.ApiKeyId) {
  const client = new APIGatewayClient({
    endpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  apiKey = (await client.send(new GetApiKeyCommand({ apiKey: stack.ApiKeyId, includeValue: true }))).value ?? '';
}
console.log(`integration suite against ${stack.ApiUrl}`);
const result = spawnSync('npx', ['vitest', 'run', '--project', 'integration'], {
  stdio: 'inherit',
  env: { ...process.env, API_URL: stack.ApiUrl, API_KEY: apiKey },
});
process.exit(result.status ?? 1);
