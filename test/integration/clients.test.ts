import { execFile, spawnSync } from 'node:child_process';
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
});
