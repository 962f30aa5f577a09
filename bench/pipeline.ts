import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startLocalStack } from '../local/stack.js';
import { runLoad, type LoadDocument } from './load.js';
import { CORPUS, printTable } from './support.js';

const smallText = (index: number): LoadDocument => ({
  name: `note-${index}.txt`,
  bytes: Buffer.from(`Note ${index}.\n\n${'Some words in a small document. '.repeat(20)}\n\nThe end of note ${index}.`),
  fields: { split: 'true', chunk_size: '200', chunk_overlap: '20' },
});

/** The mix of the hardening load test: text, HTML, DOCX, small PDFs, and a few bad files. */
export const mixedDocuments = (count: number): LoadDocument[] => {
  const file = (path: string) => readFileSync(resolve(CORPUS, path));
  const kinds: Array<(index: number) => LoadDocument> = [
    smallText,
    () => ({ name: 'fake-html.html', bytes: file('html/fake-html.html'), fields: { split: 'true' } }),
    () => ({ name: 'fake.docx', bytes: file('docx/fake.docx') }),
    () => ({
      name: 'fake-memo.pdf',
      bytes: file('pdf/fake-memo.pdf'),
      fields: { split: 'true', chunk_size: '100', chunk_overlap: '10' },
    }),
    () => ({
      name: 'zh-memo.md',
      bytes: file('zh/zh-memo.md'),
      fields: { split: 'true', chunk_size: '300', chunk_overlap: '30' },
    }),
    () => ({ name: 'password.pdf', bytes: file('pdf/password.pdf'), expect: ['FAILURE'] }),
    () => ({ name: 'empty.txt', bytes: new Uint8Array() }),
    () => ({
      name: 'noise.bin',
      bytes: Uint8Array.from({ length: 512 }, (_, i) => (i * 37) % 256),
      expect: ['FAILURE'],
    }),
  ];
  return Array.from({ length: count }, (_, index) => kinds[index % kinds.length]!(index));
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
    mixedDocuments(1000),
    50,
    100,
  ),
});
