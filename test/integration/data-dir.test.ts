import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalStack } from '../../local/stack.js';
import { isRemote, startFixtureServer } from '../support/target.js';

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

  it('lets work under way finish when stopped (Ctrl-C), then has it on the next start', async () => {
    const fixtures = await startFixtureServer();
    try {
      const first = await startLocalStack({ port: 0, dataDir, allowPrivateUrls: true });
      const response = await fetch(`${first.apiUrl}/process`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ source: `${fixtures.url}/hold/in-flight` }),
      });
      const { task_id } = (await response.json()) as { task_id: string };
      for (let attempt = 0; attempt < 100 && !fixtures.isHeld('in-flight'); attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const stopped = first.stop();
      await new Promise((resolve) => setTimeout(resolve, 300));
      fixtures.release('in-flight');
      await stopped;

      const second = await startLocalStack({ port: 0, dataDir });
      try {
        const task = (await (await fetch(`${second.apiUrl}/tasks/${task_id}`)).json()) as Record<string, any>;
        expect(task.status).toBe('SUCCESS');
        expect(task.result.documents[0].page_content).toBe('released in-flight');
      } finally {
        await second.stop();
      }
    } finally {
      await fixtures.close();
    }
  });
});
