/**
 * Flower's jobs through the API: list recent tasks, cancel one, retry it.
 *
 *   npm run example:manage
 */
import { call, waitForTask, type Task } from './client-support.js';

const recent = await call<{ tasks: Task[]; next_token?: string }>('/tasks?limit=5');
console.log('recent tasks:');
for (const task of recent.tasks) console.log(`  ${task.task_id}  ${task.status.padEnd(15)} ${task.progress}%`);

// A task that waits for its upload can always be cancelled: ask for an upload URL and never use it.
const waiting = await call<{ task_id: string }>('/upload-url', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ filename: 'never-uploaded.txt', content_type: 'text/plain', size_bytes: 10 }),
});
const cancelled = await call<Task>(`/tasks/${waiting.task_id}/cancel`, { method: 'POST' });
console.log(`cancelled ${cancelled.task_id}: ${cancelled.status}`);

const failures = await call<{ tasks: Task[] }>('/tasks?status=REVOKED&limit=1');
const again = failures.tasks[0];
if (again) {
  const retried = await call<Task>(`/tasks/${again.task_id}/retry`, { method: 'POST' });
  console.log(`retried ${retried.task_id}: ${retried.status}, attempt ${retried.attempts}`);
  // Its upload never came, so this attempt fails with a clear code.
  const finished = await waitForTask(retried.task_id);
  console.log(
    `attempt ${finished.attempts} ended ${finished.status}${finished.error ? ` (${finished.error.code})` : ''}`,
  );
}
