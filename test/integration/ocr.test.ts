import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pngOf, scannedPdf, scanOf, tiffOf } from '../../fuzz/scans.js';
import { apiClient, isRemote, startTarget, type Api, type Target } from '../support/target.js';

/**
 * Scans and images through every way in, on the embedded stack: upload,
 * `process` of an `s3://` object, a presigned upload, a batch, and preview;
 * each gives the text OCR read, with its metadata.
 */
let target: Target;
let api: Api;
let s3: S3Client;
let bucket: string;
let scan: Buffer;
let png: Buffer;

const LINES = ['Quarterly report of the harbour', 'Shipments rose by nine percent'];

const form = (name: string, bytes: Uint8Array, fields: Record<string, string> = {}) => {
  const body = new FormData();
  body.append('file', new Blob([bytes]), name);
  for (const [key, value] of Object.entries(fields)) body.append(key, value);
  return body;
};

const textOf = async (taskId: string): Promise<{ text: string; metadata: Record<string, unknown>[] }> => {
  const task = await api.waitFor(taskId);
  expect(task.status, JSON.stringify(task.error)).toBe('SUCCESS');
  const documents = task.result.documents as Array<{ page_content: string; metadata: Record<string, unknown> }>;
  return { text: documents.map((d) => d.page_content).join('\n'), metadata: documents.map((d) => d.metadata) };
};

beforeAll(async () => {
  if (isRemote()) return;
  target = await startTarget({ apiKeys: ['ocr-key'] });
  api = apiClient(target);
  bucket = target.local!.bucketName;
  s3 = new S3Client({
    endpoint: target.local!.s3Endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    forcePathStyle: true,
  });
  const pixels = await scanOf(LINES);
  scan = scannedPdf([pixels]);
  png = pngOf(pixels);
});
afterAll(async () => {
  s3?.destroy();
  await target?.stop();
});

describe.skipIf(isRemote())('OCR through every way in', () => {
  it('upload: a scanned PDF and a PNG give their text, marked as OCR', async () => {
    for (const [name, bytes] of [
      ['scan.pdf', scan],
      ['page.png', png],
    ] as const) {
      const response = await api.post('/upload', form(name, bytes));
      expect(response.status).toBe(202);
      const { text, metadata } = await textOf(((await response.json()) as { task_id: string }).task_id);
      expect(text).toContain('Quarterly report of the harbour');
      expect(metadata[0]).toMatchObject({ ocr: true, page: 1 });
    }
  });

  it('process (s3://), presigned upload and a batch; ocr=off gives NO_TEXT and counts the picture left out; an unknown language is a 400', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'inbox/ocr/fax.tiff', Body: tiffOf([await scanOf(LINES)]) }),
    );
    const processed = await api.postJson('/process', { source: `s3://${bucket}/inbox/ocr/fax.tiff` });
    expect(processed.status).toBe(202);
    expect((await textOf(((await processed.json()) as { task_id: string }).task_id)).text).toContain('Shipments rose');

    const slot = await api.postJson('/upload-url', {
      filename: 'scan.pdf',
      content_type: 'application/pdf',
      size_bytes: scan.length,
    });
    expect(slot.status).toBe(201);
    const { task_id: presignedTask, upload } = (await slot.json()) as {
      task_id: string;
      upload: { url: string; headers?: Record<string, string> };
    };
    const put = await fetch(upload.url, {
      method: 'PUT',
      body: scan,
      headers: { 'content-type': 'application/pdf', ...upload.headers },
    });
    expect(put.ok).toBe(true);
    expect((await textOf(presignedTask)).text).toContain('Quarterly report');

    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'inbox/ocr/page.png', Body: png }));
    const batch = await api.postJson('/batches', {
      sources: [`s3://${bucket}/inbox/ocr/page.png`],
      ocr_languages: 'eng',
    });
    expect(batch.status).toBe(202);
    const { batch_id: batchId } = (await batch.json()) as { batch_id: string };
    let tasks: Array<{ task_id: string; status: string }> = [];
    for (let tries = 0; tries < 200 && !tasks.some((task) => task.status === 'SUCCESS'); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      tasks = ((await (await api.get(`/batches/${batchId}/tasks`)).json()) as { tasks: typeof tasks }).tasks;
    }
    expect((await textOf(tasks[0]!.task_id)).text).toContain('Quarterly report');

    const off = await api.post('/upload', form('scan.pdf', scan, { ocr: 'off' }));
    const offTask = await api.waitFor(((await off.json()) as { task_id: string }).task_id);
    expect(offTask.result.warnings.map((warning: { code: string }) => warning.code)).toEqual([
      'CONTENT_NOT_READ',
      'NO_TEXT',
    ]);

    const unknown = await api.post('/upload', form('scan.pdf', scan, { ocr_languages: 'tlh' }));
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain(
      'supported: eng, chi_sim',
    );
  });

  it('preview: a scanned page is read within the preview call', async () => {
    const response = await api.preview(form('page.png', png));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { result: { documents: Array<{ page_content: string }> } };
    expect(body.result.documents[0]?.page_content).toContain('Quarterly report');
  });
});
