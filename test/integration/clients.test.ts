import { execFile, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusPath } from '../support/corpus.js';
import { isRemote, startFixtureServer, startTarget, type Target } from '../support/target.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
let target: Target;
let fixtures: Awaited<ReturnType<typeof startFixtureServer>>;

/** A Python that has `requests` (Debian's python3-requests in CI). */
const python = ['/usr/bin/python3', 'python3'].find(
  (candidate) => spawnSync(candidate, ['-c', 'import requests'], { stdio: 'ignore' }).status === 0,
);

beforeAll(async () => {
  // Port 8000: the original client has it written in.
  target = await startTarget(isRemote() ? {} : { port: 8000 });
  fixtures = await startFixtureServer();
});
afterAll(async () => {
  await fixtures?.close();
  await target?.stop();
});

describe.skipIf(isRemote())('clients', () => {
  it('the original Python client works unchanged against npm start', async () => {
    expect(python, 'python3 with the requests package (apt install python3-requests)').toBeDefined();
    const { stdout } = await run(
      python!,
      [join(ROOT, 'examples/original_client.py'), `${fixtures.url}/corpus/html/example-with-scripts.html`],
      {
        timeout: 60_000,
      },
    );
    expect(stdout).toMatch(/Task submitted: [0-9a-f-]{36}/);
    expect(stdout).toMatch(/Processed \d+ documents/);
  });

  it("the original Python client's form body carries the structure options as new form fields", async () => {
    // The original client's request, with the new fields added to its `data` dict.
    const script = `
import json, sys, time, requests
base, url = sys.argv[1], sys.argv[2]
response = requests.post(f"{base}/process", data={
    "source": url, "split": True, "output_format": "markdown", "chunk_strategy": "by_heading",
    "chunk_size_unit": "tokens", "chunk_size": 128, "chunk_overlap": 16})
response.raise_for_status()
task_id = response.json()["task_id"]
while True:
    status = requests.get(f"{base}/tasks/{task_id}").json()
    if status["status"] in ("SUCCESS", "FAILURE"):
        print(json.dumps(status))
        break
    time.sleep(0.2)
`;
    const { stdout } = await run(python!, ['-c', script, target.apiUrl, `${fixtures.url}/corpus/html/fake-html.html`], {
      timeout: 60_000,
    });
    const task = JSON.parse(stdout) as Record<string, any>;
    expect(task.status).toBe('SUCCESS');
    expect(task.options).toMatchObject({ output_format: 'markdown', chunk_strategy: 'by_heading', chunk_size: 128 });
    expect(task.result.documents[0].metadata.headings).toEqual(expect.any(Array));
    expect(task.result.documents.some((document: any) => document.metadata.headings.length > 0)).toBe(true);
  });

  const example = (script: string, ...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', join(ROOT, 'examples', script), ...args], {
      cwd: ROOT,
      env: { ...process.env, DOCPROC_URL: target.apiUrl },
      timeout: 60_000,
    });

  it('example: client (URL, progress line, result)', async () => {
    const { stdout } = await example('client.ts', `${fixtures.url}/corpus/text/norwich-city.txt`);
    expect(stdout).toMatch(/SUCCESS\s+100%/);
    expect(stdout).toMatch(/\d+ documents/);
  });

  it('example: upload a local file', async () => {
    const { stdout } = await example('upload-file.ts', corpusPath('pdf/fake-memo.pdf'));
    expect(stdout).toMatch(/\d+ chunks; first: May 5, 2023/);
  });

  it('example: presigned large-file flow', async () => {
    const { stdout } = await example('presigned-upload.ts', corpusPath('pdf/layout-parser-paper-fast.pdf'));
    expect(stdout).toMatch(/\d+ documents/);
  });

  it('example: list, cancel, retry', async () => {
    const { stdout } = await example('manage-tasks.ts');
    expect(stdout).toContain('recent tasks:');
    expect(stdout).toMatch(/cancelled [0-9a-f-]{36}: REVOKED/);
    expect(stdout).toMatch(/retried [0-9a-f-]{36}: PENDING, attempt 2/);
  });

  /** A receiver example as a process on a free port, its output gathered line by line. */
  const startReceiver = async (command: string, args: string[]) => {
    const child = spawn(command, [...args, '0'], {
      cwd: ROOT,
      env: { ...process.env, DOCPROC_WEBHOOK_SECRET: target.local!.webhookSecret },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const waitFor = async (pattern: RegExp) => {
      for (const deadline = Date.now() + 30_000; !pattern.test(output);) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${pattern} in: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return pattern.exec(output)!;
    };
    const url = (await waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+\/)/))[1]!;
    return { url, waitFor, output: () => output, stop: () => child.kill() };
  };

  it.each([
    ['TypeScript', process.execPath, ['--import', 'tsx', join(ROOT, 'examples/webhook-receiver.ts')]],
    ['Python', 'python3', [join(ROOT, 'examples/webhook_receiver.py')]],
  ])(
    'example: webhook receiver (%s) verifies, prints, drops duplicates, refuses forgeries',
    async (_, command, args) => {
      const receiver = await startReceiver(command, args);
      try {
        const form = new FormData();
        form.append('file', new Blob(['Announced to the example receiver.']), 'memo.txt');
        form.append('callback_url', receiver.url);
        const submitted = await fetch(`${target.apiUrl}/upload`, { method: 'POST', body: form });
        const { task_id: taskId } = (await submitted.json()) as { task_id: string };
        const [, webhookId] = await receiver.waitFor(
          new RegExp(`task\\.succeeded ${taskId} SUCCESS \\((msg_[0-9a-f-]+)\\)`),
        );

        const deliveries = await fetch(`${target.apiUrl}/tasks/${taskId}/deliveries`);
        const [delivery] = ((await deliveries.json()) as { deliveries: Array<{ delivery_id: string }> }).deliveries;
        await fetch(`${target.apiUrl}/tasks/${taskId}/deliveries/${delivery!.delivery_id}/redeliver`, {
          method: 'POST',
        });
        await receiver.waitFor(new RegExp(`duplicate ${webhookId}`));

        const forged = await fetch(receiver.url, {
          method: 'POST',
          headers: {
            'webhook-id': 'msg_forged',
            'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
            'webhook-signature': 'v1,bm90IGEgc2lnbmF0dXJl',
          },
          body: '{"type":"task.succeeded","data":{}}',
        });
        expect(forged.status).toBe(401);
        await receiver.waitFor(/refused: bad or missing signature/);
      } finally {
        receiver.stop();
      }
    },
  );
});
