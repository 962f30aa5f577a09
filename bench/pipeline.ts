import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startLocalStack } from '../local/stack.js';
import { mixedDocuments, runLoad, smallText, type LoadDocument } from '../local/load-driver.js';
import { CORPUS, printTable } from './support.js';

const run = async (
  title: string,
  documents: LoadDocument[],
  concurrency: number,
  pollMs: number,
  options: { unsandboxed?: boolean } = {},
) => {
  // Measured warm: every execution environment started, then a warm-up pass of 100 small documents so that
  // V8 has compiled the code paths in each of them (cold starts are Lambda's business, not the pipeline's).
  const stack = await startLocalStack({ port: 0, prewarm: true, ...options });
  await stack.warm(true);
  await runLoad(
    stack,
    Array.from({ length: 100 }, (_, index) => smallText(index)),
    { concurrency, pollMs },
  );
  try {
    const report = await runLoad(stack, documents, { concurrency, pollMs });
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
      },
    ]);
    console.log(`statuses: ${JSON.stringify(report.byStatus)}`);
    return report;
  } finally {
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
