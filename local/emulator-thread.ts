/**
 * Runs the emulators on a thread of their own, so that the handlers and the
 * emulated AWS services use two cores: with both on one thread, the AWS SDK
 * on one side and dynalite and fauxqs on the other took turns on a single
 * core (measured: about 20 tasks/s; see the pipeline benchmark).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startEmulatorServers, type PresignedSigners } from './emulators.js';

const { host, awsPort, dataDir, bodyLimitBytes } = workerData as {
  host: string;
  awsPort?: number;
  dataDir?: string;
  bodyLimitBytes?: number;
};
const servers = await startEmulatorServers({
  host,
  awsPort,
  dataDir,
  bodyLimitBytes,
  warn: (line) => parentPort?.postMessage({ type: 'warn', line }),
});
servers.onObjectCreated((event) => parentPort?.postMessage({ type: 'objectCreated', event }));
servers.onIamNotice((notice) => parentPort?.postMessage({ type: 'iam', notice }));
parentPort?.on('message', (message: { type: string; signers?: PresignedSigners }) => {
  if (message.type === 'stop') void servers.stop().then(() => parentPort?.postMessage({ type: 'stopped' }));
  if (message.type === 'queueStats') {
    void servers.queueStats().then((stats) => parentPort?.postMessage({ type: 'queueStats', stats }));
  }
  if (message.type === 'signers' && message.signers) {
    void servers.setSigners(message.signers).then(() => parentPort?.postMessage({ type: 'signersSet' }));
  }
});
parentPort?.postMessage({ type: 'ready', awsEndpoint: servers.awsEndpoint, dynamoEndpoint: servers.dynamoEndpoint });
