/**
 * Large files: ask for a presigned URL, PUT the bytes there; the task starts
 * by itself when the object lands.
 *
 *   npm run example:presigned -- ../shared/corpus/pdf/DA-619p.pdf
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { call, waitForTask } from './client-support.js';

const path = process.argv[2] ?? '../shared/corpus/pdf/layout-parser-paper-fast.pdf';
const bytes = await readFile(path);
const created = await call<{
  task_id: string;
  upload: { url: string; method: string; headers: Record<string, string> };
}>('/upload-url', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ filename: basename(path), content_type: 'application/pdf', size_bytes: bytes.length }),
});
console.log(`task ${created.task_id}: uploading ${bytes.length} bytes`);
const put = await fetch(created.upload.url, {
  method: created.upload.method,
  headers: created.upload.headers,
  body: bytes,
});
if (!put.ok) throw new Error(`upload failed: ${put.status} ${await put.text()}`);
const task = await waitForTask(created.task_id);
console.log(task.status === 'SUCCESS' ? `${task.result?.document_count} documents` : `failed: ${task.error?.code}`);
if (task.status !== 'SUCCESS') process.exitCode = 1;
