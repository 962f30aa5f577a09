import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseSigningKeys, signatureHeader } from '../lambdas/core/webhook-signing.js';
import { resolve } from 'node:path';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import { mixedDocuments, runLoad, smallText, type LoadDocument } from '../local/load-driver.js';
import { CORPUS, printTable } from './support.js';

/**
 * The bus events of the measured run: one final event (Succeeded, Failed,
 * Revoked) per final task, no id twice. Waits up to 2 s for the last
 * announcements, which follow the status write the clients saw.
 */
const finalEvents = async (stack: LocalStack, from: number, finalTasks: number) => {
  const FINAL = new Set(['Task Succeeded', 'Task Failed', 'Task Revoked']);
  const collect = () => stack.busEvents().slice(from);
  for (
    let waited = 0;
    waited < 2000 && collect().filter((event) => FINAL.has(event['detail-type'])).length < finalTasks;
    waited += 50
  ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const events = collect();
  const ids = events.map((event) => (event.detail as { event_id: string }).event_id);
  const finalPerTask = new Map<string, number>();
  for (const event of events.filter((candidate) => FINAL.has(candidate['detail-type']))) {
    const task = (event.detail as { task_id: string }).task_id;
    finalPerTask.set(task, (finalPerTask.get(task) ?? 0) + 1);
  }
  return {
    all: events.length,
    final: [...finalPerTask.values()].reduce((sum, count) => sum + count, 0),
    duplicates: ids.length - new Set(ids).size,
    missing: Math.max(0, finalTasks - finalPerTask.size),
  };
};

const run = async (
  title: string,
  documents: LoadDocument[],
  concurrency: number,
  pollMs: number,
  options: { unsandboxed?: boolean } = {},
) => {
  // Measured warm: every execution environment started, then a warm-up pass of 100 small documents so that
  // V8 has compiled the code paths in each of them (cold starts are Lambda's business, not the pipeline's).
  // The result cache off: the warm-up's documents come again in the measured run, which measures processing.
  const stack = await startLocalStack({ port: 0, prewarm: true, config: { resultCacheTtlHours: 0 }, ...options });
  await stack.warm(true);
  await runLoad(
    stack,
    Array.from({ length: 100 }, (_, index) => smallText(index)),
    { concurrency, pollMs },
  );
  try {
    const eventsBefore = stack.busEvents().length;
    const report = await runLoad(stack, documents, { concurrency, pollMs });
    const events = await finalEvents(stack, eventsBefore, report.terminal);
    printTable(title, [
      {
        submitted: report.submitted,
        final: report.terminal,
        'tasks/s': report.tasksPerSecond,
        'client p50 ms': report.clientLatencyMs.p50,
        'client p95 ms': report.clientLatencyMs.p95,
        'client p99 ms': report.clientLatencyMs.p99,
        'server p50 ms': report.serverLatencyMs.p50,
        'server p95 ms': report.serverLatencyMs.p95,
        'server p99 ms': report.serverLatencyMs.p99,
        lost: report.lost,
        duplicated: report.duplicated,
        '5xx': report.serverErrors,
        unexpected: report.unexpected,
        'final events': events.final,
        'event duplicates': events.duplicates,
        'tasks without one': events.missing,
      },
    ]);
    console.log(`statuses: ${JSON.stringify(report.byStatus)}`);
    return { ...report, events };
  } finally {
    await stack.stop();
  }
};

/**
 * Webhooks under a burst: 1,000 small uploads at concurrency 50, each with a
 * callback_url to a receiver on this machine that checks every signature.
 * Counts what arrived once the tasks are final: one task.succeeded per task,
 * no webhook-id twice, none lost; and how long after its task finished each
 * came (the task row's finished_at to arrival).
 */
const webhookBurst = async (count: number, concurrency: number) => {
  const stack = await startLocalStack({ port: 0, prewarm: true, allowPrivateUrls: true });
  await stack.warm(true);
  const keys = parseSigningKeys(stack.webhookSecret);
  const arrivals: Array<{ id: string; task: string; type: string; finishedAt: string; at: number; verified: boolean }> =
    [];
  const receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(request.headers['webhook-id']);
      const timestamp = Number(request.headers['webhook-timestamp']);
      const parsed = JSON.parse(body) as { type: string; data: { task_id: string; finished_at?: string } };
      arrivals.push({
        id,
        task: parsed.data.task_id,
        type: parsed.type,
        finishedAt: parsed.data.finished_at ?? '',
        at: Date.now(),
        verified: request.headers['webhook-signature'] === signatureHeader(keys, id, timestamp, body),
      });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  try {
    const documents = Array.from({ length: count }, (_, index) => ({
      ...smallText(index),
      fields: { callback_url: url },
    }));
    const report = await runLoad(stack, documents, { concurrency, pollMs: 100 });
    for (
      let waited = 0;
      waited < 30_000 && new Set(arrivals.map((arrival) => arrival.task)).size < report.terminal;
      waited += 100
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const ids = arrivals.map((arrival) => arrival.id);
    const lateness = arrivals
      .map((arrival) => arrival.at - Date.parse(arrival.finishedAt))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const row = {
      tasks: report.submitted,
      final: report.terminal,
      'webhooks received': arrivals.length,
      'tasks called back': new Set(arrivals.map((arrival) => arrival.task)).size,
      'duplicate ids': ids.length - new Set(ids).size,
      'bad signatures': arrivals.filter((arrival) => !arrival.verified).length,
      'finished→received p50 ms': lateness[Math.floor(lateness.length / 2)] ?? NaN,
      'finished→received p95 ms': lateness[Math.floor(lateness.length * 0.95)] ?? NaN,
    };
    printTable(`Webhooks: ${count} uploads with callback_url, concurrency ${concurrency}, a local receiver`, [row]);
    return row;
  } finally {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await stack.stop();
  }
};

export const benchPipeline = async () => ({
  // The target of the project brief: 300 small uploads with split, 25 clients polling every 100 ms.
  clients25: await run(
    'Embedded pipeline: 300 small text uploads (split), 25 clients polling every 100 ms',
    Array.from({ length: 300 }, (_, index) => smallText(index)),
    25,
    100,
  ),
  // The same without the sandbox, in the same run: what sandboxing costs a small document.
  clients25Unsandboxed: await run(
    'The same without the sandbox (baseline)',
    Array.from({ length: 300 }, (_, index) => smallText(index)),
    25,
    100,
    { unsandboxed: true },
  ),
  // One client alone: the latency a single caller sees.
  oneClient: await run(
    'Embedded pipeline: 100 small text uploads (split), one client polling every 100 ms',
    Array.from({ length: 100 }, (_, index) => smallText(index)),
    1,
    100,
  ),
  // Issue 4: 500 small documents at concurrency 50.
  burst500: await run(
    'Embedded pipeline: 500 small documents, concurrency 50 (latency: submit to the poll that saw SUCCESS, and row created→finished)',
    Array.from({ length: 500 }, (_, index) => smallText(index)),
    50,
    100,
  ),
  // Hardening: 1,000 mixed submissions at concurrency 50, bad files included.
  mixed1000: await run(
    'Load: 1,000 mixed submissions (text, HTML, DOCX, PDF, bad files), concurrency 50',
    mixedDocuments(1000, (path) => readFileSync(resolve(CORPUS, path))),
    50,
    100,
  ),
});

export const benchWebhooks = async () => ({ webhooks1000: await webhookBurst(1000, 50) });
