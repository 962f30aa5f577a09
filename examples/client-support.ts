/** Shared by the examples: a client configured from the environment, and a progress line. */
import { DocprocClient, isFinal, type Task } from '../sdk/index.js';

/** `DOCPROC_URL` (default `npm start`'s address) and `DOCPROC_API_KEY`, read by the SDK. */
export const client = new DocprocClient();

/** One line, rewritten in place at each change, ended when the task is final. */
export const showProgress = (task: Task): void => {
  process.stdout.write(`\r${task.status.padEnd(15)} ${String(task.progress).padStart(3)}% ${task.stage.padEnd(10)}`);
  if (isFinal(task.status)) process.stdout.write('\n');
};
