/**
 * Upload a local file, then wait for its chunks. The SDK picks the route:
 * one multipart POST up to 4 MB, a presigned PUT above.
 *
 *   npm run example:upload -- ../shared/corpus/pdf/fake-memo.pdf
 */
import { basename } from 'node:path';
import { client, showProgress } from './client-support.js';

const path = process.argv[2] ?? '../shared/corpus/pdf/fake-memo.pdf';
const { task_id } = await client.submitFile(path, { split: true, chunk_size: 500, chunk_overlap: 50 });
console.log(`task ${task_id} submitted for ${basename(path)}`);
const task = await client.waitForTask(task_id, { onProgress: showProgress });
if (task.status !== 'SUCCESS') {
  console.log(`failed: ${task.error?.code}: ${task.error?.message}`);
  process.exitCode = 1;
} else {
  const { documents } = await client.getResult(task);
  console.log(`${documents.length} chunks; first: ${documents[0]?.page_content.slice(0, 80)}`);
}
