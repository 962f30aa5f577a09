/**
 * The bootstrap of one local execution environment (see lambda-runtime.ts):
 * it imports the function's module, as Lambda's runtime does at a cold
 * start, then answers invocations one at a time with the handler's result or
 * the error it threw. `process.env` here is the function's own environment.
 */
import { enableCompileCache } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { interceptLocalhostDns } from 'fauxqs';
import type { PolicyStatementSpec } from '../lib/function-catalogue.js';
import { enforcePolicy, type LocalAccount } from './iam.js';
import { lambdaContext, type InstanceData, type InstanceReply, type InstanceRequest } from './lambda-runtime.js';

type Handler = (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;

const port = parentPort;
const data = workerData as InstanceData;
// Every environment of a function loads the same bundle: V8's compiled code is kept on disk and reused.
if (data.compileCache) enableCompileCache(data.compileCache);
// fauxqs names its queues `sqs.<region>.localhost`; the SDK sends SQS calls to the queue URL's host.
interceptLocalhostDns();
// What the function prints as CloudWatch Embedded Metric Format goes to the local metrics (as CloudWatch Logs
// extracts it), not to the terminal.
const write = process.stdout.write.bind(process.stdout) as (chunk: unknown, ...rest: unknown[]) => boolean;
process.stdout.write = (chunk: unknown, ...rest: unknown[]) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
  if (!text.startsWith('{"_aws":')) return write(chunk, ...rest);
  for (const line of text.split('\n')) {
    try {
      if (line)
        port?.postMessage({ type: 'notice', notice: { emf: JSON.parse(line) as unknown } } satisfies InstanceReply);
    } catch {
      write(`${line}\n`);
    }
  }
  return true;
};
// The function's role, enforced on every client it builds (see lambdas/adapters/clients.ts).
const iam = data.options?.iam as { policy: PolicyStatementSpec[]; account: LocalAccount } | undefined;
if (iam) {
  (globalThis as { docprocAwsClientsCreated?: (clients: never) => void }).docprocAwsClientsCreated = (clients) =>
    enforcePolicy(clients, {
      functionName: data.name,
      ...iam,
      report: (notice) => port?.postMessage({ type: 'notice', notice } satisfies InstanceReply),
    });
}
const module = (await import(data.entry)) as { handler?: Handler; prepare?: (options: unknown) => void };
module.prepare?.(data.options);
const handler = module.handler;
if (!handler) throw new Error(`${data.entry} exports no handler`);

port?.on('message', (request: InstanceRequest) => {
  const reply = (message: InstanceReply) => port.postMessage(message);
  handler(request.event, lambdaContext(data, request.requestId, request.deadline)).then(
    (result) => reply({ type: 'result', id: request.id, result }),
    (error: unknown) => {
      const { name, message } = error instanceof Error ? error : new Error(String(error));
      reply({ type: 'error', id: request.id, errorType: name, message });
    },
  );
});
port?.postMessage({ type: 'ready' } satisfies InstanceReply);
