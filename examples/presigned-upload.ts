/**
 * Large files: `upload-url`, then the file streamed to the presigned URL;
 * the task starts by itself when the object lands. `submitFile` does this
 * for any file above 4 MB; here the limit is set to 0 so that any file
 * shows the route.
 *
 *   npm run example:presigned -- ../shared/corpus/pdf/DA-619p.pdf
 */
import { DocprocClient } from '../sdk/index.js';
import { showProgress } from './client-support.js';

const path = process.argv[2] ?? '../shared/corpus/pdf/layout-parser-paper-fast.pdf';
const client = new DocprocClient({ directUploadLimit: 0 });
let reported = 0;
const submitted = await client.submitFile(path, {
  onUploadProgress: (sent, total) => {
    // A line per quarter, not per chunk.
    if (sent === total || sent - reported >= total / 4) {
      reported = sent;
      console.log(`uploaded ${sent} of ${total} bytes`);
    }
  },
});
console.log(`task ${submitted.task_id} (${submitted.route}): ${submitted.status}`);
const task = await client.waitForTask(submitted.task_id, { onProgress: showProgress });
console.log(task.status === 'SUCCESS' ? `${task.result?.document_count} documents` : `failed: ${task.error?.code}`);
if (task.status !== 'SUCCESS') process.exitCode = 1;
