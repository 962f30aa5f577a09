import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import dynalite from 'dynalite';
import { buildApp, interceptLocalhostDns, S3Store, SnsStore, SqsStore } from 'fauxqs';
import { DurableS3Store } from './durable-s3-store.js';
import { stopServiceThread, threadExecArgv } from './threads.js';
import { allowingStatement, type IamNotice, type LocalAccount } from './iam.js';
import { isPresigned, s3ErrorXml, verifyPresigned } from './presigned.js';
import type { PolicyStatementSpec } from '../lib/function-catalogue.js';

export interface ObjectCreated {
  bucket: string;
  key: string;
  size: number;
  /** S3's event name after `ObjectCreated:`. */
  event: 'Put' | 'Copy' | 'CompleteMultipartUpload';
  /** Without quotes, as notifications carry it. */
  eTag: string;
  /** Greater for each later event (S3's `sequencer`: tells two writes of the same bytes apart). */
  sequencer: string;
}

export interface EmulatorServers {
  /** S3 and SQS (fauxqs). */
  awsEndpoint: string;
  /** DynamoDB (dynalite). */
  dynamoEndpoint: string;
  /** Called after every object written (PUT, copy, completed multipart upload): the stand-in for S3 event notifications. */
  onObjectCreated(listener: (event: ObjectCreated) => void): void;
  /**
   * The signers presigned S3 URLs may name: each function's access key, its
   * secret and policy. A presigned request is checked as S3 checks it (see
   * presigned.ts), then against its signer's policy; the stack's own key is
   * unrestricted.
   */
  setSigners(signers: PresignedSigners): Promise<void>;
  /** What the presigned requests' IAM checks saw (the same notices the functions' checks give). */
  onIamNotice(listener: (notice: IamNotice) => void): void;
  /** Each queue's depth and the send time of its oldest message: what SQS reports to CloudWatch. */
  queueStats(): Promise<QueueStats[]>;
  stop(): Promise<void>;
}

export interface QueueStats {
  name: string;
  visible: number;
  inFlight: number;
  /** When the oldest message (waiting or in flight) was sent, ms; undefined when the queue is empty. */
  oldestSentAt?: number | undefined;
}

interface FauxqsQueue {
  messages: Array<{ sentTimestamp: number }>;
  inflightMessages: Map<string, { message: { sentTimestamp: number } }>;
}

export interface PresignedSigners {
  account: LocalAccount;
  /** The stack's own access key: may do anything. */
  administrator: { accessKeyId: string; secretAccessKey: string };
  functions: Array<{ accessKeyId: string; secretAccessKey: string; function: string; policy: PolicyStatementSpec[] }>;
}

const PRESIGNED_ACTIONS: Record<string, string> = {
  GET: 's3:GetObject',
  HEAD: 's3:GetObject',
  PUT: 's3:PutObject',
  DELETE: 's3:DeleteObject',
};

const listen = (server: Server, host: string) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });

/**
 * The AWS emulators: fauxqs for S3 and SQS, dynalite for DynamoDB (on disk
 * under `dataDir` when given, in memory otherwise). Both speak the AWS wire
 * protocols, so the handlers use the real SDK against them.
 */
export interface EmulatorOptions {
  host?: string;
  /** Where S3 and SQS listen: a port S3 clients can be told in advance. Default: any free one. */
  awsPort?: number | undefined;
  /** Keep S3 objects and DynamoDB rows here (written as they change); in memory otherwise. */
  dataDir?: string | undefined;
  /** Largest S3 request body: the largest upload or result the configuration allows (fauxqs's own is 11 MiB). */
  bodyLimitBytes?: number | undefined;
  warn?: (message: string) => void;
}

export const startEmulatorServers = async (options: EmulatorOptions = {}): Promise<EmulatorServers> => {
  const host = options.host ?? '127.0.0.1';
  const listeners: Array<(event: ObjectCreated) => void> = [];
  const iamListeners: Array<(notice: IamNotice) => void> = [];
  let signers: PresignedSigners | undefined;
  const sqsStore = new SqsStore();
  const s3Store = options.dataDir ? new DurableS3Store(join(options.dataDir, 's3'), options.warn) : new S3Store();

  const fauxqs = buildApp({
    logger: false,
    host: 'localhost',
    bodyLimit: options.bodyLimitBytes,
    stores: { sqsStore, snsStore: new SnsStore(), s3Store },
  });
  // Presigned requests, as S3 checks them (the body is parsed by now: a signed checksum is checked too).
  fauxqs.addHook('preHandler', async (request, reply) => {
    const [path = '', search = ''] = request.url.split('?');
    const query = new URLSearchParams(search);
    if (!signers || !isPresigned(query)) return;
    const known = signers;
    const verdict = await verifyPresigned(
      {
        method: request.method,
        path,
        query,
        headers: request.headers,
        body: Buffer.isBuffer(request.body) ? request.body : undefined,
      },
      (accessKeyId) =>
        accessKeyId === known.administrator.accessKeyId
          ? known.administrator.secretAccessKey
          : known.functions.find((signer) => signer.accessKeyId === accessKeyId)?.secretAccessKey,
    );
    const fail = (status: number, code: string, message: string) =>
      reply.code(status).header('content-type', 'application/xml').send(s3ErrorXml(code, message));
    if (!verdict.ok) return fail(verdict.status, verdict.code, verdict.message);
    const signer = known.functions.find((candidate) => candidate.accessKeyId === verdict.accessKeyId);
    if (!signer) return undefined;
    const objectPath = decodeURIComponent(path.slice(1));
    const action = PRESIGNED_ACTIONS[request.method] ?? `s3:${request.method}`;
    const resource = `arn:aws:s3:::${objectPath}`;
    const allowed = allowingStatement(signer.policy, { action, resource });
    const notice: IamNotice = allowed
      ? { iam: 'used', function: signer.function, ...allowed }
      : { iam: 'denied', function: signer.function, action, resource };
    for (const listener of iamListeners) listener(notice);
    return allowed ? undefined : fail(403, 'AccessDenied', 'Access Denied');
  });
  // S3's sequencer: hexadecimal, of a fixed width, greater for each later event (also across restarts).
  let events = 0;
  const nextSequencer = () =>
    (BigInt(Date.now()) * 1_000_000n + BigInt(events++ % 1_000_000)).toString(16).toUpperCase();
  fauxqs.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode < 200 || reply.statusCode >= 300) return;
    const [path = '', query = ''] = request.url.split('?');
    const params = new URLSearchParams(query);
    // A whole object is written by a PUT (not of a multipart part), a copy, or a completed multipart upload.
    const event =
      request.method === 'PUT' && !params.has('uploadId')
        ? request.headers['x-amz-copy-source']
          ? 'Copy'
          : 'Put'
        : request.method === 'POST' && params.has('uploadId')
          ? 'CompleteMultipartUpload'
          : undefined;
    if (!event) return;
    const [bucket = '', ...rest] = path
      .slice(1)
      .split('/')
      .map((segment) => decodeURIComponent(segment));
    const key = rest.join('/');
    if (!bucket || !key) return; // CreateBucket
    let stored: { contentLength: number; etag: string } | undefined;
    try {
      stored = s3Store.headObject(bucket, key);
    } catch {
      return; // deleted already: S3 would still notify, but the object is gone for every reader
    }
    // The PUT's own answer names its ETag; a copy or a completed upload answers in XML, so the store is read.
    const eTag = String(reply.getHeader('etag') ?? stored.etag).replace(/"/g, '');
    const created: ObjectCreated = { bucket, key, size: stored.contentLength, event, eTag, sequencer: nextSequencer() };
    for (const listener of listeners) listener(created);
  });
  await fauxqs.listen({ port: options.awsPort ?? 0, host });
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
    setSigners: async (value) => {
      signers = value;
    },
    onIamNotice: (listener) => iamListeners.push(listener),
    queueStats: async () =>
      // fauxqs keeps its queues by name (a field its types call private).
      [...(sqsStore as unknown as { queuesByName: Map<string, FauxqsQueue> }).queuesByName].map(([name, queue]) => {
        const sent = [
          ...queue.messages.map((message) => message.sentTimestamp),
          ...[...queue.inflightMessages.values()].map((entry) => entry.message.sentTimestamp),
        ];
        return {
          name,
          visible: queue.messages.length,
          inFlight: queue.inflightMessages.size,
          oldestSentAt: sent.length ? Math.min(...sent) : undefined,
        };
      }),
    stop: async () => {
      await fauxqs.close();
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    },
  };
};

/**
 * Starts the emulators on their own thread (see emulator-thread.ts) and
 * makes `*.localhost` resolve to loopback in this process: fauxqs queue URLs
 * are `http://sqs.<region>.localhost:<port>/…` and the SDK sends to the
 * queue URL's host.
 */
export const startEmulators = async (
  options: Omit<EmulatorOptions, 'warn'> & { warn?: (message: string) => void } = {},
): Promise<EmulatorServers> => {
  const entry = new URL(`./emulator-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  const thread = new Worker(entry, {
    workerData: {
      host: options.host ?? '127.0.0.1',
      awsPort: options.awsPort,
      dataDir: options.dataDir,
      bodyLimitBytes: options.bodyLimitBytes,
    },
    execArgv: threadExecArgv(entry),
  });
  const listeners: Array<(event: ObjectCreated) => void> = [];
  const iamListeners: Array<(notice: IamNotice) => void> = [];
  const ready = await new Promise<{ awsEndpoint: string; dynamoEndpoint: string }>((resolve, reject) => {
    thread.once('error', reject);
    thread.on(
      'message',
      (message: {
        type: string;
        event?: ObjectCreated;
        awsEndpoint?: string;
        dynamoEndpoint?: string;
        line?: string;
        notice?: IamNotice;
      }) => {
        if (message.type === 'ready')
          resolve({ awsEndpoint: String(message.awsEndpoint), dynamoEndpoint: String(message.dynamoEndpoint) });
        if (message.type === 'objectCreated' && message.event)
          for (const listener of listeners) listener(message.event);
        if (message.type === 'warn') options.warn?.(String(message.line));
        if (message.type === 'iam' && message.notice) for (const listener of iamListeners) listener(message.notice);
      },
    );
  });
  const restoreDns = interceptLocalhostDns();
  return {
    ...ready,
    onObjectCreated: (listener) => listeners.push(listener),
    setSigners: async (signers) => {
      const set = new Promise<void>((resolve) =>
        thread.on('message', (message: { type: string }) => message.type === 'signersSet' && resolve()),
      );
      thread.postMessage({ type: 'signers', signers });
      await set;
    },
    onIamNotice: (listener) => iamListeners.push(listener),
    queueStats: async () => {
      const answered = new Promise<QueueStats[]>((resolve) => {
        const listener = (message: { type: string; stats?: QueueStats[] }) => {
          if (message.type !== 'queueStats') return;
          thread.off('message', listener);
          resolve(message.stats ?? []);
        };
        thread.on('message', listener);
      });
      thread.postMessage({ type: 'queueStats' });
      return answered;
    },
    stop: async () => {
      await stopServiceThread(thread);
      restoreDns();
    },
  };
};
