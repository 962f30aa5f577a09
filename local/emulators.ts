import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import dynalite from 'dynalite';
import { buildApp, interceptLocalhostDns } from 'fauxqs';

export interface ObjectCreated {
  bucket: string;
  key: string;
  size: number;
}

export interface Emulators {
  /** S3 and SQS (fauxqs). */
  awsEndpoint: string;
  /** DynamoDB (dynalite). */
  dynamoEndpoint: string;
  /** Called after every successful single-request PUT of an object: the stand-in for S3 event notifications. */
  onObjectCreated(listener: (event: ObjectCreated) => void): void;
  stop(): Promise<void>;
}

const listen = (server: Server, host: string) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });

/**
 * Starts the AWS emulators in this process: fauxqs for S3 and SQS, dynalite
 * for DynamoDB (on disk under `dataDir` when given, in memory otherwise).
 * Both speak the AWS wire protocols, so the handlers use the real SDK.
 */
export const startEmulators = async (
  options: { host?: string; dataDir?: string | undefined } = {},
): Promise<Emulators> => {
  const host = options.host ?? '127.0.0.1';
  // fauxqs queue URLs are `http://sqs.<region>.localhost:<port>/…` and the SDK sends to the
  // queue URL's host: resolve *.localhost to the loopback address in this process.
  const restoreDns = interceptLocalhostDns();
  const listeners: Array<(event: ObjectCreated) => void> = [];

  const fauxqs = buildApp({ logger: false, host: 'localhost' });
  fauxqs.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'PUT' || reply.statusCode < 200 || reply.statusCode >= 300) return;
    const [path = '', query = ''] = request.url.split('?');
    const params = new URLSearchParams(query);
    if (params.has('uploadId') || request.headers['x-amz-copy-source']) return; // multipart parts and copies
    const [bucket = '', ...rest] = path
      .slice(1)
      .split('/')
      .map((segment) => decodeURIComponent(segment));
    const key = rest.join('/');
    if (!bucket || !key) return; // CreateBucket
    const size = Number(request.headers['x-amz-decoded-content-length'] ?? request.headers['content-length'] ?? 0);
    for (const listener of listeners) listener({ bucket, key, size });
  });
  await fauxqs.listen({ port: 0, host });
  const awsPort = (fauxqs.server.address() as AddressInfo).port;

  const dynamo = dynalite({
    ...(options.dataDir ? { path: join(options.dataDir, 'dynamodb') } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const dynamoPort = await listen(dynamo, host);

  return {
    awsEndpoint: `http://${host}:${awsPort}`,
    dynamoEndpoint: `http://${host}:${dynamoPort}`,
    onObjectCreated: (listener) => listeners.push(listener),
    stop: async () => {
      await fauxqs.close();
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
      restoreDns();
    },
  };
};
