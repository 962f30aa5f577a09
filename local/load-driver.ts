import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { LocalStack } from './stack.js';

export interface LoadDocument {
  name: string;
  bytes: Uint8Array;
  fields?: Record<string, string>;
  /** Statuses this document may end in (SUCCESS unless it is a bad file). */
  expect?: string[];
}

export interface LoadReport {
  submitted: number;
  terminal: number;
  byStatus: Record<string, number>;
  unexpected: number;
  serverErrors: number;
  lost: number;
  duplicated: number;
  wallSeconds: number;
  tasksPerSecond: number;
  /** Client view: from the submit request to the poll that saw a final status. */
  clientLatencyMs: { p50: number; p95: number; p99: number };
  /** Server view: the task row's created_at to finished_at. */
  serverLatencyMs: { p50: number; p95: number; p99: number };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
};
const spread = (values: number[]) => ({
  p50: Math.round(percentile(values, 50)),
  p95: Math.round(percentile(values, 95)),
  p99: Math.round(percentile(values, 99)),
});

/**
 * `concurrency` clients, each uploading its share of `documents` one after
 * another and polling each task every `pollMs` until it is final, as real
 * clients would. Then it checks nothing was lost or duplicated: every task
 * final, and exactly one result object per successful task.
 */
export const runLoad = async (
  stack: LocalStack,
  documents: LoadDocument[],
  options: { concurrency: number; pollMs: number; timeoutMs?: number },
): Promise<LoadReport> => {
  const api = stack.apiUrl;
  const results: Array<{ id?: string; status?: string; latency?: number; server?: number; ok: boolean }> = [];
  let serverErrors = 0;
  let next = 0;
  const started = performance.now();
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);

  const client = async () => {
    while (next < documents.length) {
      const document = documents[next++]!;
      const form = new FormData();
      form.append('file', new Blob([document.bytes]), document.name);
      for (const [key, value] of Object.entries(document.fields ?? {})) form.append(key, value);
      const submittedAt = performance.now();
      const response = await fetch(`${api}/upload`, { method: 'POST', body: form });
      if (response.status >= 500) serverErrors++;
      if (response.status !== 202) {
        results.push({ ok: false, status: `HTTP ${response.status}` });
        continue;
      }
      const { task_id: id } = (await response.json()) as { task_id: string };
      for (;;) {
        const poll = await fetch(`${api}/tasks/${id}`);
        if (poll.status >= 500) serverErrors++;
        const task = (await poll.json()) as { status: string; created_at: string; finished_at?: string };
        if (['SUCCESS', 'FAILURE', 'REVOKED'].includes(task.status)) {
          results.push({
            id,
            status: task.status,
            latency: performance.now() - submittedAt,
            server: Date.parse(task.finished_at ?? task.created_at) - Date.parse(task.created_at),
            ok: (document.expect ?? ['SUCCESS']).includes(task.status),
          });
          break;
        }
        if (Date.now() > deadline) {
          results.push({ id, status: task.status, ok: false });
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, options.pollMs));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, client));
  const wallSeconds = (performance.now() - started) / 1000;

  // One result object per successful task: nothing duplicated.
  const counts = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await stack.clients.s3.send(
      new ListObjectsV2Command({ Bucket: stack.bucketName, Prefix: 'results/', ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      const id = String(object.Key).split('/')[1] ?? '';
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    token = page.NextContinuationToken;
  } while (token);
  const succeeded = results.filter((result) => result.status === 'SUCCESS');
  const byStatus: Record<string, number> = {};
  for (const result of results) byStatus[result.status ?? '?'] = (byStatus[result.status ?? '?'] ?? 0) + 1;
  const terminal = results.filter((result) => ['SUCCESS', 'FAILURE', 'REVOKED'].includes(result.status ?? '')).length;
  return {
    submitted: documents.length,
    terminal,
    byStatus,
    unexpected: results.filter((result) => !result.ok).length,
    serverErrors,
    lost: documents.length - terminal + succeeded.filter((result) => !counts.get(result.id ?? '')).length,
    duplicated: succeeded.filter((result) => (counts.get(result.id ?? '') ?? 0) > 1).length,
    wallSeconds: Number(wallSeconds.toFixed(2)),
    tasksPerSecond: Number((terminal / wallSeconds).toFixed(1)),
    clientLatencyMs: spread(results.flatMap((result) => (result.latency === undefined ? [] : [result.latency]))),
    serverLatencyMs: spread(results.flatMap((result) => (result.server === undefined ? [] : [result.server]))),
  };
};

/** A small text document with split options: the unit of the pipeline benchmark. */
export const smallText = (index: number): LoadDocument => ({
  name: `note-${index}.txt`,
  bytes: Buffer.from(`Note ${index}.\n\n${'Some words in a small document. '.repeat(20)}\n\nThe end of note ${index}.`),
  fields: { split: 'true', chunk_size: '200', chunk_overlap: '20' },
});

/** The mix of the hardening load test: text, HTML, DOCX, small PDFs, and a few bad files. */
export const mixedDocuments = (count: number, corpus: (path: string) => Uint8Array): LoadDocument[] => {
  const file = corpus;
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
