/**
 * The local event bus on a thread of its own: on the main thread, which
 * also answers every API request, a worker's PutEvents waited behind the
 * clients' polls (measured: about a sixth of the embedded pipeline's
 * throughput under 25 polling clients; see the pipeline benchmark).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startLocalEventBus } from './event-bus.js';

const bus = await startLocalEventBus(workerData as { busNames: string[]; host?: string });
bus.onEvent((event) => parentPort?.postMessage({ type: 'event', event }));
parentPort?.on('message', (message: { type: string }) => {
  if (message.type === 'stop') void bus.stop().then(() => parentPort?.postMessage({ type: 'stopped' }));
});
parentPort?.postMessage({ type: 'ready', endpoint: bus.endpoint });
