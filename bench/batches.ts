import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startLocalStack } from '../local/stack.js';
import { printTable } from './support.js';

/**
 * A batch of an S3 prefix on the embedded stack: `count` small text objects
 * put under inbox/, one `POST /batches` of the prefix, then the batch polled
 * once a second until it is final. Reports how fast the prefix was listed
 * into tasks (objects/s while LISTING), how fast tasks finished, and checks
 * the end: one task per object, no id twice, counts exact.
 */
const prefixBatch = async (count: number) => {
  const stack = await startLocalStack({ port: 0, prewarm: true });
  await stack.warm(true);
  try {
    const prefix = `inbox/bench-${Date.now()}/`;
    const putStarted = Date.now();
    for (let start = 0; start < count; start += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, count - start) }, (_, offset) =>
          stack.clients.s3.send(
            new PutObjectCommand({
              Bucket: stack.bucketName,
              Key: `${prefix}doc-${String(start + offset).padStart(6, '0')}.txt`,
              Body: `Document ${start + offset} of a bulk load. `.repeat(20),
            }),
          ),
        ),
      );
    }
    const putSeconds = (Date.now() - putStarted) / 1000;
    const api = (path: string, init?: RequestInit) => fetch(`${stack.apiUrl}${path}`, init);
    const submitted = Date.now();
    const created = (await (
      await api('/batches', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ source: `s3://${stack.bucketName}/${prefix}`, split: true }),
      })
    ).json()) as { batch_id: string };
    let listedAt: number | undefined;
    let view: { status: string; total: number | null; listed: number; counts: Record<string, number> };
    for (;;) {
      view = (await (await api(`/batches/${created.batch_id}`)).json()) as typeof view;
      if (listedAt === undefined && view.status !== 'LISTING') listedAt = Date.now();
      if (['COMPLETED', 'COMPLETED_WITH_ERRORS', 'REVOKED'].includes(view.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const finished = Date.now();
    const ids = new Set<string>();
    let token: string | undefined;
    do {
      const page = (await (
        await api(`/batches/${created.batch_id}/tasks?limit=100${token ? `&next_token=${token}` : ''}`)
      ).json()) as { tasks: Array<{ task_id: string }>; next_token?: string };
      for (const task of page.tasks) ids.add(task.task_id);
      token = page.next_token;
    } while (token);
    const listSeconds = ((listedAt ?? finished) - submitted) / 1000;
    const row = {
      objects: count,
      'put s': Number(putSeconds.toFixed(1)),
      'listed into tasks s': Number(listSeconds.toFixed(1)),
      'objects/s listed': Math.round(count / listSeconds),
      'submit→all final s': Number(((finished - submitted) / 1000).toFixed(1)),
      'tasks/s finished': Math.round(count / ((finished - submitted) / 1000)),
      status: view.status,
      total: view.total ?? 'null',
      SUCCESS: view.counts.SUCCESS ?? 0,
      'tasks listed': ids.size,
      'lost or duplicated': count - ids.size,
    };
    printTable(`Batch of a prefix: ${count} small text objects, split`, [row]);
    return row;
  } finally {
    await stack.stop();
  }
};

export const benchBatches = async () => ({ prefix10000: await prefixBatch(10_000) });
