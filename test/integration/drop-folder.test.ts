import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localApiKeyId } from '../../local/api-gateway.js';
import { apiClient, isRemote, startTarget, type Api, type Target } from '../support/target.js';

/**
 * The drop folder on the embedded stack: objects put under inbox/ by a plain
 * S3 client (as `aws s3 cp` would) become tasks of the configured owner,
 * through the same S3 notification → SQS → consumer path as on AWS, with the
 * options their metadata names.
 */
const OWNER_KEY = 'drop-folder-owner-key';
const OTHER_KEY = 'another-clients-key';

let target: Target;
let api: Api;
let s3: S3Client;

const s3Client = (endpoint: string) =>
  new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });

beforeAll(async () => {
  if (isRemote()) return;
  target = await startTarget({
    apiKeys: [OWNER_KEY, OTHER_KEY],
    config: { dropFolder: true, dropFolderOwner: localApiKeyId(OWNER_KEY) },
  });
  api = apiClient(target);
  s3 = s3Client(target.local!.s3Endpoint);
});
afterAll(async () => {
  s3?.destroy();
  await target?.stop();
});

type TaskView = Record<string, any>;

/** The tasks a client lists (newest first), once at least `count` of those under `prefix` are there. */
const listedUnder = async (apiKey: string, prefix: string, count: number, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${target.apiUrl}/tasks?limit=100`, { headers: { 'x-api-key': apiKey } });
    const { tasks } = (await response.json()) as { tasks: TaskView[] };
    const ours = tasks.filter((task) => String(task.source?.uri ?? '').includes(`/${prefix}`));
    if (ours.length >= count || Date.now() > deadline) return ours;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

const PARAGRAPHS = Array.from({ length: 6 }, (_, index) => `Paragraph ${index + 1} of the dropped notes.`).join('\n\n');

describe.skipIf(isRemote())('drop folder (embedded stack)', () => {
  it('makes a task of each object put under inbox/, with the options of its metadata, for the configured owner', async () => {
    const bucket = target.local!.bucketName;
    const put = (key: string, body: string, metadata?: Record<string, string>) =>
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));

    await put('inbox/drop/plain.txt', 'Dropped with no metadata: the default options.');
    await put('inbox/drop/split notes.txt', PARAGRAPHS, {
      'docproc-split': 'true',
      'docproc-chunk-size': '60',
      'docproc-chunk-overlap': '0',
    });
    await put('inbox/drop/bad.txt', 'Dropped with an option that is not one.', { 'docproc-chunk-size': 'huge' });
    // What `aws s3 cp` does for large files: a multipart upload, which S3 announces when it completes.
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: 'inbox/drop/multipart.txt',
        Metadata: { 'docproc-chunk-size': '500' },
      }),
    );
    const { ETag } = await s3.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: 'inbox/drop/multipart.txt',
        UploadId,
        PartNumber: 1,
        Body: 'Uploaded in parts.',
      }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'inbox/drop/multipart.txt',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] },
      }),
    );

    const listed = await listedUnder(OWNER_KEY, 'inbox/drop/', 4);
    expect(listed.map((task) => task.source.filename).sort()).toEqual([
      'bad.txt',
      'multipart.txt',
      'plain.txt',
      'split notes.txt',
    ]);
    const byName = Object.fromEntries(
      await Promise.all(listed.map(async (task) => [task.source.filename, await api.waitFor(task.task_id)] as const)),
    );

    expect(byName['plain.txt']).toMatchObject({
      status: 'SUCCESS',
      source: { type: 's3', uri: `s3://${bucket}/inbox/drop/plain.txt` },
      options: { split: false, chunk_size: 1000, chunk_overlap: 200 },
    });
    expect(byName['plain.txt']?.result.documents[0].page_content).toBe(
      'Dropped with no metadata: the default options.',
    );

    const split = byName['split notes.txt'];
    expect(split).toMatchObject({ status: 'SUCCESS', options: { split: true, chunk_size: 60, chunk_overlap: 0 } });
    expect(split?.result.document_count).toBeGreaterThan(1);
    for (const document of split?.result.documents ?? []) expect(document.page_content.length).toBeLessThanOrEqual(60);

    expect(byName['multipart.txt']).toMatchObject({ status: 'SUCCESS', options: { chunk_size: 500 } });

    expect(byName['bad.txt']).toMatchObject({ status: 'FAILURE', error: { code: 'VALIDATION_ERROR' } });
    expect(byName['bad.txt']?.error.message).toContain('x-amz-meta-docproc-chunk-size');

    // Another client sees none of them; the consumer's calls stayed within its catalogue grants.
    expect(await listedUnder(OTHER_KEY, 'inbox/drop/', 0)).toEqual([]);
    expect(target.local!.iam.denied).toEqual([]);
  });
});

describe.skipIf(isRemote())('npm start', () => {
  const ROOT = fileURLToPath(new URL('../..', import.meta.url));

  /** Starts bin/local.ts, returns its banner once printed, and stops it after `use`. */
  const withStarted = async (args: string[], use: (banner: string) => Promise<void>) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts', '--port', '0', ...args], {
      cwd: ROOT,
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      for (let waited = 0; !output.includes('Press Ctrl-C') && waited < 60_000; waited += 100) {
        if (child.exitCode !== null) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(output).toContain('Press Ctrl-C');
      await use(output);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  };

  it('turns the drop folder on, says so, and processes what any S3 client puts under inbox/', async () => {
    await withStarted([], async (banner) => {
      expect(banner).toMatch(/Drop folder\s+on: objects written under s3:\/\/docproc-documents\/inbox\/ become tasks/);
      const [, apiUrl = ''] = /API\s+(http:\/\/\S+)/.exec(banner) ?? [];
      const [, endpoint = '', bucket = ''] = /S3\s+(http:\/\/\S+)\s+bucket\s+(\S+)/.exec(banner) ?? [];
      const client = s3Client(endpoint);
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'inbox/started.txt', Body: 'Dropped on npm start.' }),
      );
      client.destroy();
      const deadline = Date.now() + 30_000;
      let task: TaskView | undefined;
      while (task?.status !== 'SUCCESS' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const { tasks } = (await (await fetch(`${apiUrl}/tasks`)).json()) as { tasks: TaskView[] };
        task = tasks.find((candidate) => candidate.source.uri === `s3://${bucket}/inbox/started.txt`);
      }
      expect(task).toMatchObject({ status: 'SUCCESS', source: { filename: 'started.txt' } });
    });
  });

  it('turns it off with --no-drop-folder, and puts S3 on the port --s3-port names', async () => {
    // A port free a moment ago, as a user would pick one.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    await withStarted(['--no-drop-folder', '--s3-port', String(port)], async (banner) => {
      expect(banner).toMatch(/Drop folder\s+off/);
      expect(banner).toMatch(new RegExp(`S3\\s+http://127\\.0\\.0\\.1:${port}\\s+bucket docproc-documents`));
    });
  });
});
