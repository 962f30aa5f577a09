import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRemote, startFixtureServer } from '../support/target.js';

/** `npm start` as a real process, so that it can be killed as a user (or the OOM killer) would. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Started {
  child: ChildProcess;
  apiUrl: string;
  output: () => string;
  exited: Promise<number | null>;
}

const startProcess = async (args: string[]): Promise<Started> => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts', '--port', '0', ...args], {
    cwd: ROOT,
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let waited = 0; waited < 60_000; waited += 100) {
    const match = /API\s+(http:\/\/\S+)/.exec(output);
    if (match?.[1]) return { child, apiUrl: match[1], output: () => output, exited };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`npm start did not come up:\n${output}`);
};

const waitFor = async (api: string, id: string, statuses = ['SUCCESS', 'FAILURE'], timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = (await (await fetch(`${api}/tasks/${id}`)).json()) as Record<string, any>;
    if (statuses.includes(task.status as string)) return task;
    if (Date.now() > deadline) throw new Error(`task ${id} still ${task.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

const held = async (fixtures: Awaited<ReturnType<typeof startFixtureServer>>, name: string) => {
  for (let waited = 0; waited < 30_000 && !fixtures.isHeld(name); waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(fixtures.isHeld(name)).toBe(true);
};

let fixtures: Awaited<ReturnType<typeof startFixtureServer>>;
const dataDir = mkdtempSync(join(tmpdir(), 'docproc-kill-'));
beforeAll(async () => {
  fixtures = await startFixtureServer();
});
afterAll(async () => {
  await fixtures?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe.skipIf(isRemote())('npm start as a process', () => {
  it('survives kill -9 with --data-dir: stored results stay, a STARTED task runs again at once', async () => {
    const first = await startProcess(['--data-dir', dataDir, '--allow-private-urls']);
    const form = new FormData();
    form.append('file', new Blob(['Stored before the kill.']), 'kept.txt');
    const { task_id: kept } = (await (
      await fetch(`${first.apiUrl}/upload`, { method: 'POST', body: form })
    ).json()) as {
      task_id: string;
    };
    await waitFor(first.apiUrl, kept);
    const response = await fetch(`${first.apiUrl}/process`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: `${fixtures.url}/hold/kill9` }),
    });
    const { task_id: running } = (await response.json()) as { task_id: string };
    await held(fixtures, 'kill9');
    first.child.kill('SIGKILL');
    await first.exited;
    fixtures.release('kill9'); // the dead run's request

    // A write cut short by the kill: a body with no sidecar is skipped with a warning, never fatal.
    const s3Dir = join(dataDir, 's3');
    const [bucketDir] = readdirSync(s3Dir);
    mkdirSync(join(s3Dir, bucketDir!), { recursive: true });
    writeFileSync(join(s3Dir, bucketDir!, 'deadbeef.body'), 'half written');

    const second = await startProcess(['--data-dir', dataDir, '--allow-private-urls']);
    try {
      const task = await waitFor(second.apiUrl, kept);
      expect(task.result.documents[0].page_content).toBe('Stored before the kill.');
      expect(second.output()).toContain('no sidecar');
      // The STARTED run died with the process: its task is queued again at start, not after its lease.
      await held(fixtures, 'kill9');
      fixtures.release('kill9');
      const resumed = await waitFor(second.apiUrl, running, ['SUCCESS', 'FAILURE'], 15_000);
      expect(resumed).toMatchObject({ status: 'SUCCESS', attempts: 1 });
      expect(resumed.result.documents[0].page_content).toBe('released kill9');
    } finally {
      second.child.kill('SIGKILL');
      await second.exited;
    }
  });

  it('names its S3 endpoint and bucket: any S3 client can put a document there to process by s3:// URI', async () => {
    const started = await startProcess([]);
    try {
      const [, endpoint = '', bucket = ''] = /S3\s+(http:\/\/\S+)\s+bucket\s+(\S+)/.exec(started.output()) ?? [];
      const s3 = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'inbox/dropped.txt', Body: 'Put by any S3 client.' }));
      s3.destroy();
      const response = await fetch(`${started.apiUrl}/process`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ source: `s3://${bucket}/inbox/dropped.txt` }),
      });
      const { task_id } = (await response.json()) as { task_id: string };
      const task = await waitFor(started.apiUrl, task_id);
      expect(task.result.documents[0].page_content).toBe('Put by any S3 client.');
    } finally {
      started.child.kill('SIGKILL');
      await started.exited;
    }
  });

  it('stops within 10 s of Ctrl-C with work in flight that will not end', async () => {
    const started = await startProcess(['--allow-private-urls']);
    const response = await fetch(`${started.apiUrl}/process`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: `${fixtures.url}/hold/forever` }),
    });
    expect(response.status).toBe(202);
    await held(fixtures, 'forever');
    const signalled = Date.now();
    started.child.kill('SIGINT');
    const code = await Promise.race([
      started.exited,
      new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 10_000)),
    ]);
    if (code === 'still running') started.child.kill('SIGKILL');
    expect(code).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    fixtures.release('forever');
  });
});
