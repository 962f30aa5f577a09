/**
 * The queue consumers on a thread of their own: the worker Lambdas then run
 * beside the API Lambdas rather than taking turns with them on one core.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { interceptLocalhostDns } from 'fauxqs';
import { startConsumers, type ConsumerSettings } from './consumers.js';

interceptLocalhostDns();
const consumers = startConsumers(workerData as ConsumerSettings, {
  log: (line) => parentPort?.postMessage({ type: 'log', line }),
  fault: (fault) => parentPort?.postMessage({ type: 'fault', fault }),
});
const stats = setInterval(() => parentPort?.postMessage({ type: 'busy', busy: consumers.busy() }), 250);
parentPort?.on('message', (message: { type: string }) => {
  if (message.type !== 'stop') return;
  clearInterval(stats);
  void consumers.stop().then(() => parentPort?.postMessage({ type: 'stopped' }));
});
parentPort?.postMessage({ type: 'ready' });
