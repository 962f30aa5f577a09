import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scannedPdf, scanOf, tiffOf } from '../../fuzz/scans.js';
import { apiClient, isRemote, startTarget, type Api, type Target } from '../support/target.js';

/**
 * Page fan-out on the embedded stack: a scan with several pages to recognise
 * goes to the pages queue in parts, read by the page workers under their own
 * IAM policy, and comes back as one result; a part that crashes on every
 * delivery fails its task naming the pages; a cancel stops the parts left.
 */
let target: Target;
let api: Api;

const LINES = [
  'Annual survey of the lighthouses',
  'Lamps were changed on the north coast',
  'The keeper of the island station retired',
  'Fog signals were tested every month',
  'Two beacons were painted in the summer',
  'A new tender joined the fleet in May',
  'Visitors climbed the tower on open days',
];

let scan: Buffer;
let tiff: Buffer;

const upload = async (name: string, fields: Record<string, string> = {}, bytes = scan): Promise<string> => {
  const form = new FormData();
  form.append('file', new Blob([bytes]), name);
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  const response = await api.post('/upload', form);
  expect(response.status).toBe(202);
  return ((await response.json()) as { task_id: string }).task_id;
};

const partReads = (name: string) =>
  target.local!.faults.filter((fault) => fault.startsWith(`read-part ${name} `)).length;

beforeAll(async () => {
  if (isRemote()) return;
  target = await startTarget({
    config: { ocrFanOutMinPages: 2, ocrPagesPerPart: 1, maxReceiveCount: 2 },
    timing: { visibilityTimeoutSeconds: 3 },
    // Part "6" always crashes; every part waits a little, so that a cancel lands while parts are left.
    faults: { crashParts: ['6'], partDelayMs: 300 },
  });
  api = apiClient(target);
  // Each page says one line, twice as large as body text, so that OCR reads it whole.
  const pages = await Promise.all(LINES.map((line) => scanOf([line])));
  scan = scannedPdf(pages);
  // Uncompressed, so at 100 dpi: three pages stay under the direct upload's 4 MB.
  tiff = tiffOf(await Promise.all(LINES.slice(0, 3).map((line) => scanOf([line], 100))));
});
afterAll(async () => target?.stop());

describe.skipIf(isRemote())('page fan-out on the embedded stack', () => {
  it('reads a scan in parts and gives one result, in page order, with the parts counted', async () => {
    const id = await upload('survey.pdf', { pages: '1-4' });
    const done = await api.waitFor(id, undefined, 60_000);
    expect(done.status, JSON.stringify(done.error)).toBe('SUCCESS');
    expect(done.fan_out).toEqual({ parts: 4, parts_done: 4, ocr_pages: 4, ocr_pages_done: 4 });
    const documents = done.result.documents as Array<{ page_content: string; metadata: Record<string, unknown> }>;
    expect(documents.map((document) => document.metadata.page)).toEqual([1, 2, 3, 4]);
    documents.forEach((document, index) => {
      expect(document.page_content.toLowerCase()).toContain(LINES[index]!.split(' ').slice(-2).join(' ').toLowerCase());
      expect(document.metadata).toMatchObject({ ocr: true, total_pages: 7 });
    });
    expect(partReads('survey.pdf')).toBe(4);
    expect(target.local!.iam.denied).toEqual([]);
  });

  it('reads a multi-page TIFF in parts too, its pages in order', async () => {
    const id = await upload('fax.tiff', {}, tiff);
    const done = await api.waitFor(id, undefined, 60_000);
    expect(done.status, JSON.stringify(done.error)).toBe('SUCCESS');
    expect(done.fan_out).toEqual({ parts: 3, parts_done: 3, ocr_pages: 3, ocr_pages_done: 3 });
    const documents = done.result.documents as Array<{ page_content: string; metadata: Record<string, unknown> }>;
    expect(documents.map((document) => document.metadata.page)).toEqual([1, 2, 3]);
    documents.forEach((document, index) => {
      expect(document.page_content.toLowerCase()).toContain(LINES[index]!.split(' ').slice(-2).join(' ').toLowerCase());
      expect(document.metadata).toMatchObject({ ocr: true, total_pages: 3 });
    });
    expect(done.result.format).toBe('image');
    expect(partReads('fax.tiff')).toBe(3);
  });

  it('fails the task naming the pages when a part crashes on every delivery', async () => {
    const id = await upload('crashing.pdf', { pages: '5-7' });
    const failed = await api.waitFor(id, undefined, 60_000);
    expect(failed).toMatchObject({ status: 'FAILURE', error: { code: 'WORKER_CRASHED' } });
    expect(failed.error.message).toContain('pages 6');
    expect(target.local!.faults.filter((fault) => fault === 'crash-part crashing.pdf 6')).toHaveLength(2);
  });

  it('stops the parts left once the task is cancelled', async () => {
    const id = await upload('cancelled.pdf', { pages: '1-5,7' });
    await api.waitFor(id, ['STARTED'], 30_000);
    for (let tries = 0; tries < 300; tries++) {
      const task = (await (await api.get(`/tasks/${id}`)).json()) as { fan_out?: unknown };
      if (task.fan_out) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const cancelled = await api.post(`/tasks/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    // Every part message is taken off its queue: read by a page worker already at work, or found REVOKED.
    for (let tries = 0; tries < 100 && target.local!.busy().pageWorker! > 0; tries++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const task = await api.waitFor(id);
    expect(task.status).toBe('REVOKED');
    expect(task.result).toBeUndefined();
    expect(partReads('cancelled.pdf')).toBeLessThan(6);
  });
});
