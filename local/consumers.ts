import { SQSClient } from '@aws-sdk/client-sqs';
import type { DeploymentConfig } from '../lib/config.js';
import { SqsEventSource } from './event-source.js';
import { localFunctions, type Faults, type LocalResources, type LocalTiming } from './functions.js';
import { invoke } from './lambda-runtime.js';
import type { QueuePair } from './provision.js';

/** Faults as data, so they can cross to the consumer thread. */
export interface FaultSpec {
  /** Documents with these names crash the worker on every delivery. */
  crashFilenames?: string[];
  /** Documents with these names crash the worker on their first delivery only. */
  crashOnceFilenames?: string[];
  /** The first this-many S3 reads of inputs fail with a network error. */
  failFirstReads?: number;
}

export interface ConsumerSettings {
  config: DeploymentConfig;
  resources: LocalResources;
  queues: Record<'standard' | 'large' | 'uploadEvents', QueuePair>;
  allowPrivateUrls: boolean;
  timing: LocalTiming;
  faults?: FaultSpec | undefined;
}

/** Turns a FaultSpec into the predicates the worker wrapper calls, reporting each fault it injects. */
const faultsFrom = (spec: FaultSpec | undefined, report: (fault: string) => void): Faults | undefined => {
  if (!spec) return undefined;
  const crashed = new Set<string>();
  const failed = new Set<string>();
  return {
    crash: (filename) => {
      if (spec.crashFilenames?.includes(filename)) {
        report(`crash ${filename}`);
        return true;
      }
      if (spec.crashOnceFilenames?.includes(filename) && !crashed.has(filename)) {
        crashed.add(filename);
        report(`crash-once ${filename}`);
        return true;
      }
      return false;
    },
    failRead: (key) => {
      if (failed.size >= (spec.failFirstReads ?? 0) || failed.has(key)) return false;
      failed.add(key);
      report(`fail-read ${key}`);
      return true;
    },
  };
};

/**
 * The queue consumers, wired as the CDK stack wires them: each worker on its
 * queue (batch size, max concurrency), the DLQ consumer on both DLQs, the
 * upload listener on the upload-events queue, and the janitor on its schedule.
 */
export const startConsumers = (
  settings: ConsumerSettings,
  hooks: { log: (line: string) => void; fault: (fault: string) => void },
) => {
  const { config, queues } = settings;
  const sqs = new SQSClient({});
  const functions = localFunctions(config, settings.resources, {
    allowPrivateUrls: settings.allowPrivateUrls,
    timing: settings.timing,
    faults: faultsFrom(settings.faults, hooks.fault),
  });
  const onError = (error: unknown) => hooks.log(`consumer: ${(error as Error).message ?? String(error)}`);
  const source = (
    fn: (typeof functions)['worker'],
    queue: { url: string; arn: string },
    batchSize: number,
    maxConcurrency: number,
  ) => new SqsEventSource(sqs, fn, { queueUrl: queue.url, queueArn: queue.arn, batchSize, maxConcurrency, onError });
  const sources = {
    worker: source(functions.worker, queues.standard, config.workerBatchSize, config.workerConcurrency),
    largeWorker: source(functions.largeWorker, queues.large, 1, config.largeWorkerConcurrency),
    deadLetters: source(functions.deadLetters, queues.standard.deadLetters, 10, 2),
    largeDeadLetters: source(functions.deadLetters, queues.large.deadLetters, 10, 2),
    uploadEvents: source(functions.uploadEvents, queues.uploadEvents, 10, 2),
  };
  for (const eventSource of Object.values(sources)) eventSource.start();
  const janitor = setInterval(() => {
    invoke(functions.janitor, {}).catch(onError);
  }, config.janitorIntervalMinutes * 60_000);
  janitor.unref();
  return {
    busy: () => Object.fromEntries(Object.entries(sources).map(([name, eventSource]) => [name, eventSource.busy])),
    stop: async () => {
      clearInterval(janitor);
      await Promise.all(Object.values(sources).map((eventSource) => eventSource.stop()));
      sqs.destroy();
    },
  };
};
