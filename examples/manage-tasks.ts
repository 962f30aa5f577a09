/**
 * Flower's jobs through the SDK: list recent tasks, cancel one, retry it.
 *
 *   npm run example:manage
 */
import type { Task } from '../sdk/index.js';
import { client } from './client-support.js';

// listTasks pages through next_token; the first page is enough here.
for await (const page of client.listTasks({ limit: 5 })) {
  console.log('recent tasks:');
  for (const task of page.tasks) console.log(`  ${task.task_id}  ${task.status.padEnd(15)} ${task.progress}%`);
  break;
}

// A task that waits for its upload can always be cancelled: ask for an upload URL and never use it.
const waiting = await client.createUploadUrl('never-uploaded.txt', 10);
const cancelled = await client.cancel(waiting.task_id);
console.log(`cancelled ${cancelled.task_id}: ${cancelled.status}`);

let again: Task | undefined;
for await (const page of client.listTasks({ status: 'REVOKED', limit: 1 })) {
  again = page.tasks[0];
  break;
}
if (again) {
  const retried = await client.retry(again.task_id);
  console.log(`retried ${retried.task_id}: ${retried.status}, attempt ${retried.attempts}`);
  // Its upload never came, so this attempt fails with a clear code.
  const finished = await client.waitForTask(retried.task_id);
  console.log(
    `attempt ${finished.attempts} ended ${finished.status}${finished.error ? ` (${finished.error.code})` : ''}`,
  );
}
