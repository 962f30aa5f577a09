import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalStack } from '../../local/stack.js';
import { isRemote } from '../support/target.js';

const dataDir = mkdtempSync(join(tmpdir(), 'docproc-data-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const waitFor = async (api: string, id: string) => {
  for (let attempt = 0; attempt < 200; attempt++) {
    const task = (await (await fetch(`${api}/tasks/${id}`)).json()) as Record<string, any>;
    if (['SUCCESS', 'FAILURE'].includes(task.status)) return task;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('task did not finish');
};

describe.skipIf(isRemote())('npm start --data-dir', () => {
  it('keeps finished tasks and their results across a restart', async () => {
    const first = await startLocalStack({ port: 0, dataDir });
    const form = new FormData();
    form.append('file', new Blob(['Kept across restarts.']), 'kept.txt');
    const { task_id } = (await (await fetch(`${first.apiUrl}/upload`, { method: 'POST', body: form })).json()) as {
      task_id: string;
    };
    expect((await waitFor(first.apiUrl, task_id)).status).toBe('SUCCESS');
    await first.stop();

    const second = await startLocalStack({ port: 0, dataDir });
    try {
      const task = await waitFor(second.apiUrl, task_id);
      expect(task.status).toBe('SUCCESS');
      expect(task.result.documents[0].page_content).toBe('Kept across restarts.');
    } finally {
      await second.stop();
    }
  });
});
