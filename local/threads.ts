import type { Worker } from 'node:worker_threads';

/**
 * The Node options a thread of the embedded stack starts with: tsx when its
 * entry is TypeScript source (`npm start`, the tests), nothing else of this
 * process's own (a bundle needs no flags).
 */
export const threadExecArgv = (entry: URL): string[] => (entry.pathname.endsWith('.ts') ? ['--import', 'tsx'] : []);

/**
 * Asks a service thread to stop (it closes its servers and answers
 * `stopped`), then ends it: the protocol of the emulator and event-bus
 * threads.
 */
export const stopServiceThread = async (thread: Worker): Promise<void> => {
  const stopped = new Promise<void>((resolve) =>
    thread.on('message', (message: { type: string }) => message.type === 'stopped' && resolve()),
  );
  thread.postMessage({ type: 'stop' });
  await stopped;
  await thread.terminate();
};
