import { statSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deepHtml, pdfBomb } from '../../fuzz/hostile.js';
import { PREVIEW_LIMITS } from '../../shared/definitions.js';
import { corpusFiles, corpusPath, readCorpus } from '../support/corpus.js';
import {
  apiClient,
  corpusForm,
  isRemote,
  startFixtureServer,
  startTarget,
  type Api,
  type Target,
} from '../support/target.js';

/**
 * POST /documents/preview over HTTP: the same result as the asynchronous
 * routes for the same bytes and options, the caps answered with the way to
 * the asynchronous routes, and the preview function still serving after
 * hostile documents.
 */
const KEY = 'preview-test-key';
const ASYNC_ROUTES = ['/documents/async/upload', '/documents/async/upload-url', '/documents/async/process'];
/** Default options, and split with the default chunk size and overlap. */
const OPTION_SETS: Array<Record<string, string>> = [{}, { split: 'true' }];

let target: Target;
let api: Api;
let fixtures: Awaited<ReturnType<typeof startFixtureServer>>;

beforeAll(async () => {
  target = await startTarget({ apiKeys: [KEY] });
  api = apiClient(target);
  fixtures = await startFixtureServer();
});
afterAll(async () => {
  await fixtures?.close();
  await target?.stop();
});

interface Answer {
  status: number;
  body: Record<string, any>;
}

const answer = async (response: Response): Promise<Answer> => ({
  status: response.status,
  body: (await response.json()) as Record<string, any>,
});

const previewFile = async (file: string, fields: Record<string, string> = {}) =>
  answer(await api.preview(corpusForm(file, fields)));

const previewBytes = async (name: string, bytes: Uint8Array, headers: Record<string, string> = {}) => {
  const form = new FormData();
  form.append('file', new Blob([bytes]), name);
  return answer(await api.preview(form, headers));
};

const previewSource = async (body: Record<string, unknown>) =>
  answer(await api.preview(JSON.stringify(body), { 'content-type': 'application/json' }));

const taskId = async (response: Response) => {
  expect(response.status, await response.clone().text()).toBe(202);
  return ((await response.json()) as { task_id: string }).task_id;
};

/** Runs `work` over `items`, `limit` at a time, keeping their order. */
const mapLimit = async <T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> => {
  const results: R[] = [];
  let next = 0;
  const lane = async () => {
    for (let index = next++; index < items.length; index = next++) results[index] = await work(items[index] as T);
  };
  await Promise.all(Array.from({ length: limit }, lane));
  return results;
};

/**
 * A preview answers what the asynchronous task for the same document ended
 * with: its result, or its failure's code; a PDF past the preview's page cap,
 * which a task may read, is a 413.
 */
const expectSameOutcome = (task: Record<string, any>, preview: Answer, label: string) => {
  if (task.status === 'FAILURE') {
    expect(preview.body.error?.code, label).toBe(task.error.code);
    expect(preview.status, label).toBeGreaterThanOrEqual(400);
    expect(preview.status, label).toBeLessThan(500);
  } else if ((task.result?.stats?.pages ?? 0) > PREVIEW_LIMITS.maxPages) {
    expect([preview.status, preview.body.error?.code], label).toEqual([413, 'DOCUMENT_TOO_LARGE']);
  } else {
    expect(task.status, label).toBe('SUCCESS');
    expect(preview.status, `${label}: ${JSON.stringify(preview.body.error)}`).toBe(200);
    expect(preview.body.result, label).toEqual(task.result);
  }
};

const sizeOf = (file: string) => statSync(corpusPath(file)).size;

describe('POST /documents/preview', () => {
  it('answers every corpus file under the cap, with and without split, as its asynchronous task ends', async () => {
    const cases = corpusFiles()
      .filter((file) => sizeOf(file) <= PREVIEW_LIMITS.maxInputBytes)
      .flatMap((file) => OPTION_SETS.map((fields) => ({ file, fields, label: `${file} ${JSON.stringify(fields)}` })));
    // Every task submitted at once, so the workers run while the previews are answered.
    const ids = await Promise.all(cases.map(async ({ file, fields }) => taskId(await api.upload(file, fields))));
    // Two at a time: locally, the preview function runs one environment per core.
    const previews = await mapLimit(cases, 2, ({ file, fields }) => previewFile(file, fields));
    const tasks = await Promise.all(ids.map((id) => api.waitFor(id, undefined, 180_000)));
    for (const [index, { label }] of cases.entries()) {
      expectSameOutcome(tasks[index]!, previews[index]!, label);
    }
  }, 300_000);

  it('refuses every corpus file over the cap with 413 PAYLOAD_TOO_LARGE, naming the asynchronous routes', async () => {
    const over = corpusFiles().filter((file) => sizeOf(file) > PREVIEW_LIMITS.maxInputBytes);
    expect(over.length).toBeGreaterThan(0);
    for (const file of over) {
      const preview = await previewFile(file);
      expect(preview.status, file).toBe(413);
      expect(preview.body.error.code, file).toBe('PAYLOAD_TOO_LARGE');
      for (const route of ASYNC_ROUTES) expect(preview.body.error.message, file).toContain(route);
    }
  });

  it('answers a PDF of more pages than the cap with a typed 413, pointing to the asynchronous routes', async () => {
    const file = 'pdf/failure-after-repair.pdf'; // 76 pages in 1.1 MB
    expect(sizeOf(file)).toBeLessThanOrEqual(PREVIEW_LIMITS.maxInputBytes);
    const preview = await previewFile(file);
    expect(preview.status).toBe(413);
    expect(preview.body.error.code).toBe('DOCUMENT_TOO_LARGE');
    expect(preview.body.error.message).toContain(`the limit is ${PREVIEW_LIMITS.maxPages}`);
    expect(preview.body.error.message).toContain('/documents/async/upload');
  });

  it('refuses a bad option with 400, naming the allowed values', async () => {
    const preview = await previewFile('text/fake-text.txt', { output_format: 'pdf' });
    expect(preview.status).toBe(400);
    expect(preview.body.error.code).toBe('VALIDATION_ERROR');
    expect(preview.body.error.message).toContain('output_format');
    expect(preview.body.error.message).toContain('expected one of: text, markdown');
  });
});

describe.skipIf(isRemote())('POST /documents/preview on the embedded stack', () => {
  const putInbox = (key: string, body: Uint8Array) =>
    target.local!.clients.s3.send(
      new PutObjectCommand({ Bucket: target.local!.bucketName, Key: `inbox/${key}`, Body: body }),
    );

  it('refuses requests without the API key, or with a wrong one, as every route does', async () => {
    for (const headers of [{}, { 'x-api-key': 'wrong' }] as Array<Record<string, string>>) {
      const response = await fetch(target.previewUrl, {
        method: 'POST',
        body: corpusForm('text/fake-text.txt'),
        headers,
      });
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ error: { code: 'INVALID_API_KEY', message: 'Forbidden' } });
    }
  });

  it('previews a URL source as the asynchronous task of the same URL ends, and refuses one over the cap', async () => {
    const sources = ['pdf/fake-memo.pdf', 'zh/zh-memo.html'].map((file) => `${fixtures.url}/corpus/${file}`);
    for (const source of sources) {
      const id = await taskId(await api.postJson('/process', { source, split: true }));
      expectSameOutcome(await api.waitFor(id), await previewSource({ source, split: true }), source);
    }
    const over = await previewSource({ source: `${fixtures.url}/corpus/pdf/DA-619p.pdf` });
    expect([over.status, over.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('previews an s3:// source as its asynchronous task ends, and refuses one over the cap unread', async () => {
    await putInbox('zh-memo.docx', readCorpus('zh/zh-memo.docx'));
    await putInbox('big.pdf', readCorpus('pdf/DA-619p.pdf'));
    const source = `s3://${target.local!.bucketName}/inbox/zh-memo.docx`;
    const id = await taskId(await api.postJson('/process', { source }));
    expectSameOutcome(await api.waitFor(id), await previewSource({ source }), source);
    const over = await previewSource({ source: `s3://${target.local!.bucketName}/inbox/big.pdf` });
    expect([over.status, over.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const missing = await previewSource({ source: `s3://${target.local!.bucketName}/inbox/none.pdf` });
    expect([missing.status, missing.body.error.code]).toEqual([400, 'SOURCE_NOT_FOUND']);
  });

  it.each([
    ['a malformed PDF', 'broken.pdf', Buffer.from(`%PDF-1.7\n${'garbage '.repeat(1000)}`), ['DOCUMENT_PARSE_ERROR']],
    ['HTML nested 10 000 deep', 'deep.html', deepHtml(10_000), ['DOCUMENT_PARSE_ERROR']],
    // The decode cap stops it; on a busy machine the time budget may come first.
    ['a PDF stream bomb', 'bomb.pdf', pdfBomb(256), ['DOCUMENT_TOO_LARGE', 'SOFT_TIME_LIMIT']],
  ])(
    'answers %s with a typed 4xx, and the preview function serves the next request',
    async (_case, name, bytes, codes) => {
      const hostile = await previewBytes(name, bytes);
      expect(hostile.status).toBeGreaterThanOrEqual(400);
      expect(hostile.status).toBeLessThan(500);
      expect(codes).toContain(hostile.body.error.code);
      const next = await previewBytes('next.txt', Buffer.from('The next document.'));
      expect(next.status).toBe(200);
      expect(next.body.result.documents[0].page_content).toBe('The next document.');
    },
  );
});
