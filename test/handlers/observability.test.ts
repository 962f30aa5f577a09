import type { SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamoTaskStore } from '../../lambdas/adapters/dynamo-task-store.js';
import { makeProcessHandler } from '../../lambdas/api/process.js';
import { logger } from '../../lambdas/observability.js';
import { fetchUrl } from '../../lambdas/adapters/url-source.js';
import { makeWorkerHandler } from '../../lambdas/consumers/worker.js';
import { apiEvent, apiTestDeps, lambdaContext, mockedAws } from '../support/api.js';
import { readCorpus } from '../support/corpus.js';
import { startTestTable, type TestTable } from '../support/dynalite.js';
import { aTask, testWorkerConfig } from '../support/fixtures.js';
import { MemoryBlobStore } from '../support/memory.js';
import { assembleInSandbox, processInSandbox, readPartInSandbox } from '../support/sandbox.js';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { taskMetrics } from '../../lambdas/observability.js';
import { recordingEvents } from '../support/events.js';
import { Announcements } from '../../lambdas/core/events.js';

let table: TestTable;
let output: string[];
const DOCUMENT_TEXT = 'Confidential quarterly figures that must never reach a log.';

/** Everything the function prints (Powertools writes errors to stderr, the rest to stdout). */
const captureStdout = () => {
  output = [];
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      output.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    });
  }
};
const jsonLines = () =>
  output.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, any>];
    } catch {
      return [];
    }
  });
const emf = () => jsonLines().filter((line) => line._aws);
const logs = () => jsonLines().filter((line) => line.level);

beforeAll(async () => {
  table = await startTestTable();
});
afterAll(async () => table.close());
beforeEach(() => {
  logger.setLogLevel('INFO');
  captureStdout();
});
afterEach(() => {
  vi.restoreAllMocks();
  logger.setLogLevel('SILENT');
});

const config = testWorkerConfig();

const runWorker = async (bytes: Buffer, filename: string) => {
  const store = new DynamoTaskStore(table.client, table.tableName);
  const blobs = new MemoryBlobStore();
  const taskId = `30000000-0000-4000-8000-${String(Math.floor(Math.random() * 1e12)).padStart(12, '0')}`;
  await blobs.put('bucket', `direct/${taskId}/input`, bytes, 'application/octet-stream');
  const now = new Date();
  await store.create(
    aTask({
      task_id: taskId,
      source: { type: 'upload', filename, size_bytes: bytes.length },
      input: { kind: 's3', bucket: 'bucket', key: `direct/${taskId}/input` },
      created_at: now.toISOString(),
      updated_at: new Date(now.getTime() - 250).toISOString(),
      expires_at: new Date(now.getTime() + 86400_000).toISOString(),
    }),
  );
  const handler = makeWorkerHandler(() => ({
    config,
    store,
    blobs,
    clock: { now: () => new Date() },
    metrics: taskMetrics,
    events: recordingEvents().sink,
    announcements: new Announcements(),
    newId: () => crypto.randomUUID(),
    fetchSource: fetchUrl,
    processDocument: processInSandbox,
    readPart: readPartInSandbox,
    assembleParts: assembleInSandbox,
    progressIntervalMs: 0,
  }));
  const event = {
    Records: [{ messageId: 'm-1', body: JSON.stringify({ v: 1, task_id: taskId, attempt: 1 }) }],
  } as SQSEvent;
  await handler(event, lambdaContext(60_000));
  return taskId;
};

describe('observability', () => {
  it('publishes valid EMF with the task metrics of a successful run', async () => {
    await runWorker(Buffer.from(DOCUMENT_TEXT), 'report.txt');
    const documents = emf();
    expect(documents.length).toBeGreaterThan(0);
    const metrics = new Map<string, { value: unknown; unit: string; dimensions: string[][]; namespace: string }>();
    for (const document of documents) {
      expect(document._aws.Timestamp).toEqual(expect.any(Number));
      for (const directive of document._aws.CloudWatchMetrics) {
        for (const metric of directive.Metrics) {
          metrics.set(metric.Name, {
            value: document[metric.Name],
            unit: metric.Unit,
            dimensions: directive.Dimensions,
            namespace: directive.Namespace,
          });
        }
        for (const dimension of directive.Dimensions.flat()) expect(document[dimension]).toEqual(expect.any(String));
      }
    }
    for (const name of [
      'TasksStarted',
      'QueueWait',
      'TasksSucceeded',
      'ProcessingDuration',
      'BytesProcessed',
      'DocumentsProduced',
    ]) {
      expect(metrics.get(name), name).toMatchObject({ namespace: 'DocProc', dimensions: [['service']] });
    }
    expect(metrics.get('QueueWait')?.value as number).toBeGreaterThanOrEqual(250);
    expect(metrics.get('QueueWait')?.unit).toBe('Milliseconds');
    expect(metrics.get('BytesProcessed')).toMatchObject({ value: DOCUMENT_TEXT.length, unit: 'Bytes' });
  });

  it('counts failures by error code', async () => {
    await runWorker(readCorpus('pdf/password.pdf'), 'secret.pdf');
    const failed = emf().find((document) => 'TasksFailed' in document);
    expect(failed).toMatchObject({ ErrorCode: 'PDF_PASSWORD_PROTECTED', service: 'docproc', TasksFailed: 1 });
    expect(failed!._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service', 'ErrorCode']]);
  });

  it('puts the task id, attempt and request id on every worker log line, and never the document text', async () => {
    const taskId = await runWorker(Buffer.from(DOCUMENT_TEXT), 'report.txt');
    const lines = logs();
    expect(lines.map((line) => line.message)).toEqual(expect.arrayContaining(['Task started', 'Task succeeded']));
    for (const line of lines) {
      expect(line).toMatchObject({ task_id: taskId, attempt: 1, function_request_id: 'aws-req-1' });
    }
    expect(output.join('\n')).not.toContain('Confidential quarterly figures');
  });

  it('keeps presigned signatures, API keys and source URLs out of API logs, even on errors', async () => {
    const aws = mockedAws();
    aws.ddbMock.on(PutCommand).resolves({});
    aws.sqsMock.on(SendMessageCommand).rejects(new Error('queue down'));
    const handler = makeProcessHandler(() => apiTestDeps(aws));
    const source = 'https://example.com/file.pdf?X-Amz-Signature=deadbeefsecret&X-Amz-Credential=AKIDSECRET';
    const response = await handler(
      apiEvent({
        path: '/documents/async/process',
        body: JSON.stringify({ source }),
        headers: { 'content-type': 'application/json', 'x-api-key': 'api-key-value-123' },
      }),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(500);
    const text = output.join('\n');
    expect(logs().some((line) => line.level === 'ERROR' && line.request_id === 'req-123')).toBe(true);
    for (const secret of ['deadbeefsecret', 'AKIDSECRET', 'api-key-value-123', 'X-Amz-Signature'])
      expect(text).not.toContain(secret);
  });
});
