import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, isRemote, startFixtureServer, startTarget, type Api, type Target } from '../support/target.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// The README's screenshot is refreshed with UPDATE_DOCS=1; otherwise it goes to the test artifacts.
const SCREENSHOT = process.env.UPDATE_DOCS
  ? join(import.meta.dirname, '..', '..', 'docs', 'monitor.png')
  : join(import.meta.dirname, '..', '.artifacts', 'monitor.png');

let target: Target;
let api: Api;
let browser: Browser;
let page: Page;
let fixtures: Awaited<ReturnType<typeof startFixtureServer>>;

beforeAll(async () => {
  if (isRemote()) return;
  target = await startTarget({ config: { workerConcurrency: 2 } });
  api = apiClient(target);
  fixtures = await startFixtureServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 820 } });
  await page.goto(`${target.local!.url}/`);
});
afterAll(async () => {
  await browser?.close();
  await fixtures?.close();
  await target?.stop();
});

const submit = async (response: Promise<Response>) => ((await (await response).json()) as { task_id: string }).task_id;
const statusOf = (id: string) => page.locator(`tr[data-task="${id}"] [data-status]`);
const waitForRowStatus = (id: string, status: string) =>
  page.waitForSelector(`tr[data-task="${id}"] .status.${status}`, { timeout: 20_000 });

describe.skipIf(isRemote())('local monitoring page (Chromium)', () => {
  it('shows the queues, the alarms, and a submitted task reaching SUCCESS', async () => {
    await page.waitForSelector('[data-queue="standard"]');
    await page.waitForSelector('[data-alarm="StandardDeadLettered"][data-state="OK"]');
    expect(await page.locator('[data-alarm]').count()).toBe((await target.local!.alarms()).length);
    const id = await submit(api.upload('text/fake-text.txt'));
    await waitForRowStatus(id, 'SUCCESS');
    expect(await statusOf(id).textContent()).toBe('SUCCESS');
    await page.click(`tr[data-task="${id}"]`);
    await page.waitForSelector('#details dt:text("documents")');
    expect(await page.locator('#details').textContent()).toContain('This is a test document');
  });

  it('cancels a pending task with a click', async () => {
    // Both workers busy on held URLs: the next task waits in the queue.
    const held = await Promise.all(
      ['m1', 'm2'].map((name) => submit(api.postJson('/process', { source: `${fixtures.url}/hold/${name}` }))),
    );
    await Promise.all(held.map((id) => api.waitFor(id, ['STARTED'])));
    const id = await submit(api.upload('docx/fake.docx'));
    await waitForRowStatus(id, 'PENDING');
    await page.click(`tr[data-task="${id}"]`);
    await page.click('#cancel');
    await waitForRowStatus(id, 'REVOKED');
    expect(((await (await api.get(`/tasks/${id}`)).json()) as { status: string }).status).toBe('REVOKED');
    fixtures.release('m1');
    fixtures.release('m2');
  });

  it('retries a failed task with a click', async () => {
    const id = await submit(api.upload('pdf/password.pdf'));
    await waitForRowStatus(id, 'FAILURE');
    await page.click(`tr[data-task="${id}"]`);
    await page.waitForSelector('#details :text("PDF_PASSWORD_PROTECTED")');
    await page.click('#retry');
    await api.waitFor(id, ['FAILURE'], 20_000);
    await page.waitForSelector(`tr[data-task="${id}"] td:last-child:text-is("2")`, { timeout: 20_000 });
    await waitForRowStatus(id, 'FAILURE');
    await page.waitForSelector('#detail-status.FAILURE');
    expect(((await (await api.get(`/tasks/${id}`)).json()) as { attempts: number }).attempts).toBe(2);
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
  });

  it('shows a batch: its counts as a bar, its status, and its failures by code', async () => {
    const local = target.local!;
    const put = (key: string, body: string) =>
      local.clients.s3.send(new PutObjectCommand({ Bucket: local.bucketName, Key: key, Body: body }));
    await put('inbox/monitor/memo.txt', 'A memo for the batch view.');
    await put('inbox/monitor/broken.pdf', '%PDF-1.7\nnot really a PDF at all');
    const response = await api.postJson('/batches', {
      sources: [
        `${fixtures.url}/corpus/text/fake-text.txt`,
        `s3://${local.bucketName}/inbox/monitor/memo.txt`,
        `${fixtures.url}/corpus/html/fake-html.html`,
        `${fixtures.url}/missing-one.txt`,
        `${fixtures.url}/missing-two.txt`,
        `s3://${local.bucketName}/inbox/monitor/broken.pdf`,
      ],
    });
    expect(response.status, await response.clone().text()).toBe(202);
    const { batch_id: id } = (await response.json()) as { batch_id: string };

    const row = `tr[data-batch="${id}"]`;
    await page.waitForSelector(`${row} .status.COMPLETED_WITH_ERRORS`, { timeout: 60_000 });
    const listed = (await (await fetch(`${local.url}/_local/batches`)).json()) as Array<Record<string, any>>;
    const batch = listed.find((entry) => entry.batch_id === id);
    expect(batch).toMatchObject({
      status: 'COMPLETED_WITH_ERRORS',
      total: 6,
      counts: { SUCCESS: 3, FAILURE: 3, REVOKED: 0, STARTED: 0, PENDING: 0 },
      failures: { SOURCE_FETCH_FAILED: 2, DOCUMENT_PARSE_ERROR: 1 },
      failures_counted: 3,
    });
    // Newest first: the batch just made heads the list.
    expect(listed[0]!.batch_id).toBe(id);

    // The row: a bar of two segments, each over its share of the total, the counts, and the codes.
    expect(await page.locator(`${row} [data-count]`).allTextContents()).toEqual(['3', '3', '0', '0', '0']);
    const segments = await page.locator(`${row} [data-segment]`).all();
    const widths = await Promise.all(
      segments.map(async (segment) => [
        await segment.getAttribute('data-segment'),
        await segment.getAttribute('style'),
      ]),
    );
    expect(widths).toEqual([
      ['SUCCESS', 'width:50%'],
      ['FAILURE', 'width:50%'],
    ]);
    expect(await page.locator(`${row} [data-code="SOURCE_FETCH_FAILED"]`).textContent()).toBe('SOURCE_FETCH_FAILED ×2');
    expect(await page.locator(`${row} [data-code="DOCUMENT_PARSE_ERROR"]`).textContent()).toBe(
      'DOCUMENT_PARSE_ERROR ×1',
    );
    expect(await page.locator(`${row} td`).nth(4).textContent()).toContain('6/6');
    await page.locator('section.batches').screenshot({ path: join(SCREENSHOT, '..', 'monitor-batches.png') });
  });
});
