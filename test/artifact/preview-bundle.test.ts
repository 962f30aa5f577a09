import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { corpusPath } from '../support/corpus.js';
import { ensureSynth } from '../support/synth.js';

let folder: string;

/** The code `cdk synth` produced for the function whose description starts with `description`. */
const assetOf = (cdkOut: string, description: string): string => {
  const template = JSON.parse(readFileSync(join(cdkOut, 'DocProc.template.json'), 'utf8')) as {
    Resources: Record<string, { Type: string; Properties: { Description?: string; Code?: { S3Key: string } } }>;
  };
  const fn = Object.values(template.Resources).find(
    (resource) => resource.Type === 'AWS::Lambda::Function' && resource.Properties.Description?.startsWith(description),
  );
  return join(cdkOut, `asset.${String(fn?.Properties.Code?.S3Key).replace(/\.zip$/, '')}`);
};

/** The preview handler, invoked as API Gateway would with a multipart body, for each file given. */
const PREVIEW_SCRIPT = `
  const { handler } = await import('./preview/index.mjs');
  const { readFileSync } = await import('node:fs');
  const results = [];
  for (const file of process.argv.slice(1)) {
    const head = '--B\\r\\nContent-Disposition: form-data; name="split"\\r\\n\\r\\ntrue\\r\\n--B\\r\\nContent-Disposition: form-data; name="file"; filename="' + file.split('/').pop() + '"\\r\\n\\r\\n';
    const body = Buffer.concat([Buffer.from(head), readFileSync(file), Buffer.from('\\r\\n--B--\\r\\n')]);
    const response = await handler(
      { httpMethod: 'POST', path: '/documents/preview', resource: '/documents/preview', headers: { 'content-type': 'multipart/form-data; boundary=B' },
        body: body.toString('base64'), isBase64Encoded: true, requestContext: { requestId: 'r', identity: { apiKeyId: null } } },
      { awsRequestId: 'r', functionName: 'preview', memoryLimitInMB: '1024', getRemainingTimeInMillis: () => 29000 },
    );
    results.push({ status: response.statusCode, body: JSON.parse(response.body) });
  }
  console.log(JSON.stringify(results));
`;

/** The worker bundle's own sandbox, for the same files and options. */
const WORKER_SCRIPT = `
  const { SandboxPool } = await import('./worker/index.mjs');
  const { readFileSync } = await import('node:fs');
  const sandbox = new SandboxPool({ memoryMb: 614 });
  const results = [];
  for (const file of process.argv.slice(1)) {
    const { json } = await sandbox.process({ bytes: readFileSync(file), filename: file.split('/').pop() }, { split: true, chunk_size: 1000, chunk_overlap: 200 });
    results.push(JSON.parse(new TextDecoder().decode(json)));
  }
  await sandbox.close();
  console.log(JSON.stringify(results));
`;

/** Runs a script in a fresh Node process, in a folder with no node_modules anywhere above it. */
const run = (script: string, files: string[], env: Record<string, string> = {}) => {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, ...files], {
    cwd: folder,
    env: { PATH: process.env.PATH ?? '', NODE_PATH: '', ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
  if (child.status !== 0) throw new Error(`the bundle failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop() ?? '[]') as Array<Record<string, any>>;
};

beforeAll(async () => {
  const cdkOut = await ensureSynth(inject('runId'));
  folder = mkdtempSync(join(tmpdir(), 'docproc-preview-bundle-'));
  for (const [name, description] of [
    ['preview', 'POST preview:'],
    ['worker', 'Processes documents from the standard'],
  ] as const) {
    // The asset as Lambda unpacks it: the bundle, and the lazily loaded modules (the PDF engine) beside it.
    cpSync(assetOf(cdkOut, description), join(folder, name), { recursive: true });
  }
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('the synthesized preview bundle, alone in an empty folder', () => {
  it('processes documents in sandbox threads that re-enter it, with the results of the worker bundle', () => {
    const files = ['pdf/fake-memo.pdf', 'zh/zh-memo.docx', 'zh/zh-memo.html'].map(corpusPath);
    const previews = run(PREVIEW_SCRIPT, files, {
      AWS_REGION: 'us-east-1',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      RESULT_INLINE_LIMIT_BYTES: String(4 * 1024 * 1024),
      SANDBOX_MEMORY_MB: '614',
    });
    const worker = run(WORKER_SCRIPT, files);
    expect(previews.map((preview) => preview.status)).toEqual([200, 200, 200]);
    expect(previews.map((preview) => preview.body.result)).toEqual(worker);
    expect(worker.map((result) => result.format)).toEqual(['pdf', 'docx', 'html']);
  });
});
