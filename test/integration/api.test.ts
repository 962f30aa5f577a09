import { PutObjectCommand } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusPath } from '../support/corpus.js';
import { apiClient, isRemote, startFixtureServer, startTarget, type Api, type Target } from '../support/target.js';

let target: Target;
let api: Api;
let fixtures: Awaited<ReturnType<typeof startFixtureServer>>;

// URL sources come from a fixture server on this machine: deployments (API_URL) cannot reach it,
// so those tests run against the embedded stack only.
beforeAll(async () => {
  // Two workers at most, so that tests can fill them and see a task wait in the queue.
  target = await startTarget({ config: { workerConcurrency: 2 } });
  api = apiClient(target);
  fixtures = await startFixtureServer();
});
afterAll(async () => {
  await fixtures?.close();
  await target?.stop();
});

const submitted = async (response: Response, status = 202) => {
  const body = (await response.json()) as Record<string, any>;
  expect(response.status, JSON.stringify(body)).toBe(status);
  return body;
};

describe('uploads', () => {
  it.each([
    ['pdf/fake-memo.pdf', 'pdf', 'There were 20,000 bottles of water'],
    ['docx/fake.docx', 'docx', 'Lorem ipsum dolor sit amet.'],
    ['html/fake-html.html', 'html', 'My First Heading'],
    ['text/fake-text.txt', 'text', 'This is a test document'],
  ])('processes %s to SUCCESS with its documents', async (file, format, text) => {
    const { task_id, status, message } = await submitted(await api.upload(file));
    expect(status).toBe('PENDING');
    expect(message).toBe('Document processing task submitted');
    const task = await api.waitFor(task_id);
    expect(task).toMatchObject({ status: 'SUCCESS', progress: 100, stage: 'done', attempts: 1 });
    expect(task.result).toMatchObject({ status: 'success', format, filename: file.split('/').pop() });
    expect(task.result.documents[0].page_content).toContain(text);
    expect(task.result.documents[0].metadata).toMatchObject({
      source: file.split('/').pop(),
      filename: file.split('/').pop(),
    });
  });

  it('splits with the given options', async () => {
    const { task_id } = await submitted(
      await api.upload('text/norwich-city.txt', { split: 'true', chunk_size: '300', chunk_overlap: '30' }),
    );
    const task = await api.waitFor(task_id);
    expect(task.options).toEqual({ split: true, chunk_size: 300, chunk_overlap: 30 });
    expect(task.result.document_count).toBeGreaterThan(100);
    for (const doc of task.result.documents) expect(doc.page_content.length).toBeLessThanOrEqual(300);
    expect(task.result.documents[1].metadata).toMatchObject({ chunk_index: 1, start_index: expect.any(Number) });
  });

  it('fails an encrypted PDF with PDF_PASSWORD_PROTECTED, then retries it as a new attempt', async () => {
    const { task_id } = await submitted(await api.upload('pdf/password.pdf'));
    const failed = await api.waitFor(task_id);
    expect(failed).toMatchObject({ status: 'FAILURE', error: { code: 'PDF_PASSWORD_PROTECTED', retryable: false } });
    expect(failed).not.toHaveProperty('result');
    const retried = await submitted(await api.post(`/tasks/${task_id}/retry`));
    expect(retried).toMatchObject({ status: 'PENDING', attempts: 2 });
    expect(await api.waitFor(task_id)).toMatchObject({ status: 'FAILURE', attempts: 2 });
  });

  it('answers 400 for a missing file and for bad options', async () => {
    const form = new FormData();
    form.append('split', 'true');
    expect((await api.post('/upload', form)).status).toBe(400);
    const bad = await api.upload('text/fake-text.txt', { chunk_size: '10', chunk_overlap: '20' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error).toMatchObject({ code: 'VALIDATION_ERROR' });
  });
});

describe('structure options', () => {
  it('upload: Markdown tables, token-sized chunks by heading, with heading paths, offsets and ids', async () => {
    const { task_id } = await submitted(
      await api.upload('docx/docx-tables.docx', {
        split: 'true',
        output_format: 'markdown',
        chunk_strategy: 'by_heading',
        chunk_size_unit: 'tokens',
        tokenizer: 'o200k_base',
        chunk_size: '64',
        chunk_overlap: '8',
      }),
    );
    const task = await api.waitFor(task_id);
    expect(task.status).toBe('SUCCESS');
    expect(task.options).toMatchObject({
      output_format: 'markdown',
      chunk_size_unit: 'tokens',
      tokenizer: 'o200k_base',
    });
    const text = task.result.documents.map((document: any) => document.page_content).join('\n');
    expect(text).toContain('| Header Col 1 | Header Col 2 |');
    for (const document of task.result.documents) {
      expect(document.metadata).toMatchObject({
        chunk_index: expect.any(Number),
        start_index: expect.any(Number),
        end_index: expect.any(Number),
        headings: expect.any(Array),
        chunk_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      });
    }
  });

  it("process: pages of a PDF, by page; the same request without options keeps the first version's result", async () => {
    const [withPages, plain] = await Promise.all([
      api.upload('pdf/layout-parser-paper-fast.pdf', { split: 'true', pages: '2-3', chunk_strategy: 'by_page' }),
      api.upload('pdf/layout-parser-paper-fast.pdf', { split: 'true' }),
    ]);
    const paged = await api.waitFor((await submitted(withPages)).task_id);
    // The paper has two pages: page 3 is named in a warning.
    expect(new Set(paged.result.documents.map((document: any) => document.metadata.page))).toEqual(new Set([2]));
    expect(paged.result.warnings.map((warning: any) => warning.code)).toEqual(['PAGES_OUT_OF_RANGE']);
    const first = await api.waitFor((await submitted(plain)).task_id);
    expect(Object.keys(first.result.documents[0].metadata)).not.toContain('chunk_id');
    expect(first.options).toEqual({ split: true, chunk_size: 1000, chunk_overlap: 200 });
  });

  it('answers 400 naming the allowed values, on every submission route', async () => {
    const responses = await Promise.all([
      api.upload('text/fake-text.txt', { chunk_strategy: 'semantic' }),
      api.postJson('/process', { source: 'https://example.com/a.pdf', output_format: 'html' }),
      api.postJson('/upload-url', {
        filename: 'a.pdf',
        content_type: 'application/pdf',
        size_bytes: 100,
        pages: '3-1',
      }),
    ]);
    const messages = await Promise.all(
      responses.map(async (response) => [response.status, ((await response.json()) as any).error.message]),
    );
    expect(messages).toEqual([
      [400, expect.stringContaining('chunk_strategy: expected one of: recursive, markdown, by_heading, by_page')],
      [400, expect.stringContaining('output_format: expected one of: text, markdown')],
      [400, expect.stringContaining('pages: expected pages like "1-3,7"')],
    ]);
  });
});

describe('process', () => {
  it.skipIf(isRemote())('fetches a URL (through a redirect) and processes it', async () => {
    const { task_id } = await submitted(
      await api.postJson('/process', { source: `${fixtures.url}/redirect/html/fake-html.html`, split: false }),
    );
    const task = await api.waitFor(task_id);
    expect(task.status).toBe('SUCCESS');
    expect(task.source).toMatchObject({ type: 'url' });
    expect(task.result.documents[0].metadata.source).toContain('/redirect/html/fake-html.html');
  });

  it.skipIf(isRemote())("accepts the original Python client's form body with split=True", async () => {
    const body = new URLSearchParams({ source: `${fixtures.url}/corpus/text/norwich-city.txt`, split: 'True' });
    const { task_id } = await submitted(await api.post('/process', body));
    const task = await api.waitFor(task_id);
    expect(task.options.split).toBe(true);
    expect(task.result.document_count).toBeGreaterThan(1);
  });

  it('refuses local paths and other schemes with a helpful 400', async () => {
    for (const source of ['/etc/passwd', 'file:///etc/passwd', 'ftp://example.com/a.pdf']) {
      const response = await api.postJson('/process', { source });
      expect(response.status).toBe(400);
      expect(((await response.json()) as any).error.message).toContain('upload');
    }
  });

  it.skipIf(isRemote())('processes an s3:// object of the service bucket', async () => {
    const { s3 } = target.local!.clients;
    await s3.send(
      new PutObjectCommand({
        Bucket: target.local!.bucketName,
        Key: 'inbox/memo.docx',
        Body: readFileSync(corpusPath('zh/zh-memo.docx')),
      }),
    );
    const { task_id } = await submitted(
      await api.postJson('/process', { source: `s3://${target.local!.bucketName}/inbox/memo.docx` }),
    );
    const task = await api.waitFor(task_id);
    expect(task).toMatchObject({ status: 'SUCCESS', source: { type: 's3', filename: 'memo.docx' } });
    expect(task.result.documents[0].page_content).toContain('异步文档处理服务说明');
  });
});

describe('presigned uploads', () => {
  it('starts the task by itself once the file is PUT', async () => {
    const bytes = readFileSync(corpusPath('pdf/layout-parser-paper-fast.pdf'));
    const created = await submitted(
      await api.postJson('/upload-url', {
        filename: 'paper.pdf',
        content_type: 'application/pdf',
        size_bytes: bytes.length,
        split: true,
      }),
      201,
    );
    expect(created.status).toBe('AWAITING_UPLOAD');
    expect((await (await api.get(`/tasks/${created.task_id}`)).json()) as any).toMatchObject({
      status: 'AWAITING_UPLOAD',
    });
    const put = await fetch(created.upload.url, { method: 'PUT', body: bytes, headers: created.upload.headers });
    expect(put.status).toBe(200);
    const task = await api.waitFor(created.task_id);
    expect(task).toMatchObject({ status: 'SUCCESS', source: { type: 'presigned', filename: 'paper.pdf' } });
    expect(task.result.document_count).toBeGreaterThan(5);
  });

  // S3 checks the signed Content-Length and Content-Type: the size a client declares is the size it may send.
  it('refuses a PUT longer than declared or of another type, as S3 does, and the task keeps waiting', async () => {
    const created = await submitted(
      await api.postJson('/upload-url', { filename: 'small.txt', content_type: 'text/plain', size_bytes: 10 }),
      201,
    );
    const longer = await fetch(created.upload.url, {
      method: 'PUT',
      body: 'eleven byte',
      headers: created.upload.headers,
    });
    expect(longer.status).toBe(403);
    expect(await longer.text()).toContain('SignatureDoesNotMatch');
    const retyped = await fetch(created.upload.url, {
      method: 'PUT',
      body: 'ten bytes!',
      headers: { ...created.upload.headers, 'content-type': 'text/html' },
    });
    expect(retyped.status).toBe(403);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(((await (await api.get(`/tasks/${created.task_id}`)).json()) as any).status).toBe('AWAITING_UPLOAD');
    const exact = await fetch(created.upload.url, {
      method: 'PUT',
      body: 'ten bytes!',
      headers: created.upload.headers,
    });
    expect(exact.status).toBe(200);
    expect(await api.waitFor(created.task_id)).toMatchObject({ status: 'SUCCESS' });
  });

  // The S3 emulator stopped at 11 MiB: larger presigned uploads and results never landed.
  it('takes a 12 MB presigned upload and stores a result of more than 11 MB, linked, not inlined', async () => {
    const paragraph = 'Words of a long text, repeated to make a large file for the upload path. ';
    const bytes = Buffer.from(`${paragraph.repeat(Math.ceil((12 * 1024 * 1024) / paragraph.length))}`);
    const created = await submitted(
      await api.postJson('/upload-url', {
        filename: 'long.txt',
        content_type: 'text/plain',
        size_bytes: bytes.length,
        split: true,
        chunk_size: 4000,
        chunk_overlap: 0,
      }),
      201,
    );
    const put = await fetch(created.upload.url, { method: 'PUT', body: bytes, headers: created.upload.headers });
    expect(put.status).toBe(200);
    const task = await api.waitFor(created.task_id, undefined, 120_000);
    expect(task).toMatchObject({ status: 'SUCCESS' });
    expect(task.result.documents).toBeUndefined();
    const full = (await (await fetch(task.result.result_url as string)).json()) as { documents: unknown[] };
    expect(full.documents.length).toBe(task.result.document_count);
    expect(JSON.stringify(full).length).toBeGreaterThan(11 * 1024 * 1024);
  });

  it('can be cancelled before the upload arrives', async () => {
    const created = await submitted(await api.postJson('/upload-url', { filename: 'later.pdf', size_bytes: 100 }), 201);
    const cancelled = await api.post(`/tasks/${created.task_id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(((await cancelled.json()) as any).status).toBe('REVOKED');
  });
});

describe('operations', () => {
  it.skipIf(isRemote())('cancels a task while it runs; it stops and never gets a result', async () => {
    const { task_id } = await submitted(await api.postJson('/process', { source: `${fixtures.url}/hold/running-1` }));
    await api.waitFor(task_id, ['STARTED']);
    const cancelled = await api.post(`/tasks/${task_id}/cancel`);
    expect(((await cancelled.json()) as any).status).toBe('REVOKED');
    fixtures.release('running-1');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const task = (await (await api.get(`/tasks/${task_id}`)).json()) as any;
    expect(task.status).toBe('REVOKED');
    expect(task).not.toHaveProperty('result');
  });

  it.skipIf(isRemote())('cancels a task while it waits in the queue, and it is never run', async () => {
    const busy = await Promise.all(
      ['slot-a', 'slot-b'].map(
        async (name) =>
          (await submitted(await api.postJson('/process', { source: `${fixtures.url}/hold/${name}` })))
            .task_id as string,
      ),
    );
    await Promise.all(busy.map((id) => api.waitFor(id, ['STARTED'])));
    const { task_id } = await submitted(await api.upload('text/fake-text.txt'));
    expect(((await (await api.get(`/tasks/${task_id}`)).json()) as any).status).toBe('PENDING');
    expect(((await (await api.post(`/tasks/${task_id}/cancel`)).json()) as any).status).toBe('REVOKED');
    fixtures.release('slot-a');
    fixtures.release('slot-b');
    await Promise.all(busy.map((id) => api.waitFor(id)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(((await (await api.get(`/tasks/${task_id}`)).json()) as any).status).toBe('REVOKED');
    // A cancelled task can be run again.
    await submitted(await api.post(`/tasks/${task_id}/retry`));
    expect(await api.waitFor(task_id)).toMatchObject({ status: 'SUCCESS', attempts: 2 });
  });

  it('refuses to cancel a finished task and to retry a successful one (409)', async () => {
    const { task_id } = await submitted(await api.upload('text/fake-text.txt'));
    await api.waitFor(task_id);
    const cancel = await api.post(`/tasks/${task_id}/cancel`);
    expect(cancel.status).toBe(409);
    expect(((await cancel.json()) as any).error.code).toBe('TASK_NOT_CANCELLABLE');
    const retry = await api.post(`/tasks/${task_id}/retry`);
    expect(retry.status).toBe(409);
    expect(((await retry.json()) as any).error.code).toBe('TASK_NOT_RETRYABLE');
  });

  it('lists tasks newest first, by status, page by page', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) ids.push((await submitted(await api.upload('text/fake-text.txt'))).task_id);
    await Promise.all(ids.map((id) => api.waitFor(id)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const first = (await (await api.get('/tasks?status=SUCCESS&limit=2')).json()) as any;
    expect(first.tasks).toHaveLength(2);
    expect(first.tasks.every((task: any) => task.status === 'SUCCESS')).toBe(true);
    expect(first.tasks[0].created_at >= first.tasks[1].created_at).toBe(true);
    const second = (await (
      await api.get(`/tasks?status=SUCCESS&limit=2&next_token=${encodeURIComponent(first.next_token)}`)
    ).json()) as any;
    expect(second.tasks.length).toBeGreaterThan(0);
    expect(second.tasks[0].task_id).not.toBe(first.tasks[0].task_id);
    const all = (await (await api.get('/tasks?limit=100')).json()) as any;
    expect(all.tasks.map((task: { task_id: string }) => task.task_id)).toEqual(expect.arrayContaining(ids));
  });

  it('honours Idempotency-Key: replay gives the same task, reuse with another body is a 409', async () => {
    const key = { 'Idempotency-Key': `it-${Date.now()}` };
    // A deployment refuses loopback URLs: give it one it accepts (the fetch itself may fail later).
    const body = {
      source: isRemote() ? 'https://example.com/idempotency.txt' : `${fixtures.url}/corpus/text/fake-text.txt`,
    };
    const first = await submitted(await api.postJson('/process', body, key));
    const replay = await submitted(await api.postJson('/process', body, key), 200);
    expect(replay.task_id).toBe(first.task_id);
    const conflict = await api.postJson('/process', { ...body, split: true }, key);
    expect(conflict.status).toBe(409);
    expect(((await conflict.json()) as any).error.code).toBe('IDEMPOTENCY_CONFLICT');
  });

  it('long-polls: ?wait=20 answers with the final task in one request', async () => {
    const { task_id } = await submitted(await api.upload('text/fake-text.txt'));
    const response = await api.get(`/tasks/${task_id}?wait=20`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as any).status).toBe('SUCCESS');
    expect((await api.get(`/tasks/${task_id}?wait=21`)).status).toBe(400);
  });

  it('answers 404 for unknown and malformed task ids', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'nope']) {
      const response = await api.get(`/tasks/${id}`);
      expect(response.status).toBe(404);
      expect(((await response.json()) as any).error.code).toBe('TASK_NOT_FOUND');
    }
  });

  it('compresses large responses for clients that accept gzip', async () => {
    const { task_id } = await submitted(await api.upload('text/norwich-city.txt'));
    await api.waitFor(task_id);
    const response = await fetch(`${target.apiUrl}/tasks/${task_id}`, {
      headers: { ...target.headers, 'accept-encoding': 'gzip' },
    });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(((await response.json()) as any).status).toBe('SUCCESS');
  });
});
