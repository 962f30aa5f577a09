import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import { CORPUS, median, printTable, round } from './support.js';

/**
 * What the result cache saves (docs/api.md, "Result cache"): a large PDF uploaded
 * to the warm embedded stack, then the same bytes again. Each round uploads
 * it under a name of its own, so its first upload is a miss (parsed, then
 * recorded) and its second a hit (copied); a third with `no_cache` is parsed
 * again. Measured from the upload's start to the first poll that sees
 * SUCCESS (polling every 25 ms), and on the task row (created → finished).
 */
const FILE = 'pdf/DA-619p.pdf';
const ROUNDS = 3;
const POLL_MS = 25;

interface Run {
  clientMs: number;
  rowMs: number;
  cached: boolean;
  pages: number;
}

const uploadAndWait = async (stack: LocalStack, bytes: Buffer, name: string, fields: Record<string, string> = {}) => {
  const form = new FormData();
  form.append('file', new Blob([bytes]), name);
  for (const [field, value] of Object.entries(fields)) form.append(field, value);
  const started = performance.now();
  const response = await fetch(`${stack.apiUrl}/upload`, { method: 'POST', body: form });
  if (response.status !== 202) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
  const { task_id: id } = (await response.json()) as { task_id: string };
  for (;;) {
    const task = (await (await fetch(`${stack.apiUrl}/tasks/${id}`)).json()) as {
      status: string;
      created_at: string;
      finished_at?: string;
      cached?: boolean;
      result?: { stats: { pages?: number } };
    };
    if (task.status === 'SUCCESS') {
      return {
        clientMs: performance.now() - started,
        rowMs: Date.parse(task.finished_at ?? task.created_at) - Date.parse(task.created_at),
        cached: task.cached === true,
        pages: task.result?.stats.pages ?? 0,
      } satisfies Run;
    }
    if (task.status === 'FAILURE' || task.status === 'REVOKED') throw new Error(`${name}: ${JSON.stringify(task)}`);
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
};

export const benchResultCache = async () => {
  const bytes = readFileSync(resolve(CORPUS, FILE));
  // The key's one cost that grows with the document: SHA-256 of its bytes, before the lookup.
  const hashStarted = performance.now();
  for (let index = 0; index < 10; index++) createHash('sha256').update(bytes).digest();
  const hashMs = (performance.now() - hashStarted) / 10;

  const stack = await startLocalStack({ port: 0, prewarm: true });
  try {
    await stack.warm(true);
    // One document first, so that the worker's PDF threads and code paths are warm for every round measured.
    await uploadAndWait(stack, bytes, 'warm-up.pdf');
    const misses: Run[] = [];
    const hits: Run[] = [];
    const skipped: Run[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const name = `DA-619p-${round}.pdf`;
      misses.push(await uploadAndWait(stack, bytes, name));
      hits.push(await uploadAndWait(stack, bytes, name));
      skipped.push(await uploadAndWait(stack, bytes, name, { no_cache: 'true' }));
    }
    if (misses.some((run) => run.cached) || skipped.some((run) => run.cached) || hits.some((run) => !run.cached)) {
      throw new Error('a miss was served from the cache, or a hit was not');
    }
    const row = (what: string, runs: Run[]) => ({
      what,
      runs: runs.length,
      pages: runs[0]?.pages ?? 0,
      'submit→SUCCESS median ms': Math.round(median(runs.map((run) => run.clientMs))),
      'min ms': Math.round(Math.min(...runs.map((run) => run.clientMs))),
      'max ms': Math.round(Math.max(...runs.map((run) => run.clientMs))),
      'row created→finished median ms': Math.round(median(runs.map((run) => run.rowMs))),
    });
    const rows = [
      row('miss (parsed, then recorded)', misses),
      row('hit (copied from the cache)', hits),
      row('no_cache (parsed again)', skipped),
    ];
    const saving = {
      'hit / miss (client)': round(
        median(hits.map((run) => run.clientMs)) / median(misses.map((run) => run.clientMs)),
        3,
      ),
      'hit / miss (row)': round(median(hits.map((run) => run.rowMs)) / median(misses.map((run) => run.rowMs)), 3),
      'SHA-256 of the 2.8 MB file, ms': round(hashMs, 1),
    };
    printTable(`Result cache: ${FILE} uploaded to the warm embedded stack, ${ROUNDS} rounds`, rows);
    printTable('Saving', [saving]);
    return { rows, saving };
  } finally {
    await stack.stop();
  }
};
