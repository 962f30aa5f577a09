/**
 * Upload a local file (multipart), then wait for its documents.
 *
 *   npm run example:upload -- ../shared/corpus/pdf/fake-memo.pdf
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { call, waitForTask } from './client-support.js';

const path = process.argv[2] ?? '../shared/corpus/pdf/fake-memo.pdf';
const form = new FormData();
form.append('file', new Blob([await readFile(path)]), basename(path));
form.append('split', 'true');
form.append('chunk_size', '500');
form.append('chunk_overlap', '50');
const { task_id } = await call<{ task_id: string }>('/upload', { method: 'POST', body: form });
console.log(`task ${task_id} submitted for ${basename(path)}`);
const task = await waitForTask(task_id);
if (task.status !== 'SUCCESS') {
  console.log(`failed: ${task.error?.code}: ${task.error?.message}`);
  process.exitCode = 1;
} else {
  console.log(
    `${task.result?.document_count} chunks; first: ${task.result?.documents?.[0]?.page_content.slice(0, 80)}`,
  );
}
