/**
 * The original example client, in TypeScript: submit a URL (as the form the
 * Python client posts), poll until SUCCESS or FAILURE, print the result.
 *
 *   npm run example:client -- https://example.com/report.pdf
 */
import { call, waitForTask } from './client-support.js';

const source = process.argv[2] ?? 'https://www.example.com/';
const { task_id } = await call<{ task_id: string }>('/process', {
  method: 'POST',
  body: new URLSearchParams({ source, split: 'True' }),
});
console.log(`task ${task_id} submitted for ${source}`);
const task = await waitForTask(task_id);
if (task.status === 'SUCCESS') {
  console.log(`${task.result?.document_count} documents`);
  for (const document of task.result?.documents?.slice(0, 3) ?? [])
    console.log('-', document.page_content.slice(0, 100).replace(/\s+/g, ' '));
} else {
  console.log(`failed: ${task.error?.code}: ${task.error?.message}`);
  process.exitCode = 1;
}
