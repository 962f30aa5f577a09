/**
 * The original example client, on the SDK: submit a URL, wait with a
 * progress line until SUCCESS or FAILURE, print the result.
 *
 *   npm run example:client -- https://example.com/report.pdf
 */
import { client, showProgress } from './client-support.js';

const source = process.argv[2] ?? 'https://www.example.com/';
const { task_id } = await client.submitUrl(source, { split: true });
console.log(`task ${task_id} submitted for ${source}`);
const task = await client.waitForTask(task_id, { onProgress: showProgress });
if (task.status === 'SUCCESS') {
  const result = await client.getResult(task);
  console.log(`${result.document_count} documents`);
  for (const document of result.documents.slice(0, 3))
    console.log('-', document.page_content.slice(0, 100).replace(/\s+/g, ' '));
} else {
  console.log(`failed: ${task.error?.code}: ${task.error?.message}`);
  process.exitCode = 1;
}
