/**
 * The worker with faults injected (integration tests only, never deployed):
 * the real handler factory over the real dependencies, with some S3 reads
 * failing and some documents crashing the run. Each fault injected is
 * reported to the local runtime as a notice.
 */
import { parentPort } from 'node:worker_threads';
import { once } from '../lambdas/cold-start.js';
import { buildWorkerDeps, type WorkerDeps } from '../lambdas/consumers/worker-deps.js';
import { makeWorkerHandler } from '../lambdas/consumers/worker.js';
import type { FaultSpec } from './functions.js';
import { PREFIX } from '../shared/definitions.js';
import { cancelTask } from '../lambdas/core/lifecycle.js';

const report = (fault: string) => parentPort?.postMessage({ type: 'notice', notice: { fault } });

/**
 * Shared by every instance (a SharedArrayBuffer): whether each crash-once
 * name has crashed, and, in the last cell, how many reads have failed. A
 * redelivery that lands on another instance then sees the fault as spent.
 */
const withFaults = (deps: WorkerDeps, spec: FaultSpec, counters: Int32Array): WorkerDeps => {
  const readCounter = counters.length - 1;
  // One invocation per environment: the document this environment is on.
  let cancelNext = false;
  return {
    ...deps,
    blobs: Object.assign(
      Object.create(Object.getPrototypeOf(deps.blobs) as object) as WorkerDeps['blobs'],
      deps.blobs,
      {
        get: async (bucket: string, key: string, maxBytes: number) => {
          if (Atomics.add(counters, readCounter, 1) < (spec.failFirstReads ?? 0)) {
            report(`fail-read ${key}`);
            throw Object.assign(new Error('injected: connection reset'), { name: 'NetworkingError' });
          }
          // A page worker finds the input of a fanned-out document gone (a key that is not there).
          const vanished =
            process.env.AWS_LAMBDA_FUNCTION_NAME === 'pageWorker' &&
            (spec.missingPartInputs?.some((name) => key.endsWith(name)) ?? false);
          if (vanished) report(`missing-part-input ${key}`);
          return deps.blobs.get(bucket, vanished ? `${key}.gone` : key, maxBytes);
        },
        put: async (bucket: string, key: string, body: Uint8Array | string, contentType: string) => {
          await deps.blobs.put(bucket, key, body, contentType);
          if (cancelNext && key.startsWith(PREFIX.results)) {
            cancelNext = false;
            const taskId = key.slice(PREFIX.results.length).split('/')[0] ?? '';
            const task = await deps.store.get(taskId);
            // As the cancel route does, in the middle of storing.
            if (task) await cancelTask(deps, taskId, task.owner);
            report(`cancel-while-storing ${taskId}`);
          }
        },
      },
    ),
    processDocument: async (input, options, context) => {
      if (spec.crashFilenames?.includes(input.filename)) {
        report(`crash ${input.filename}`);
        throw new Error('injected: worker crashed');
      }
      const once = spec.crashOnceFilenames?.indexOf(input.filename) ?? -1;
      if (once >= 0 && Atomics.compareExchange(counters, once, 0, 1) === 0) {
        report(`crash-once ${input.filename}`);
        throw new Error('injected: worker crashed');
      }
      cancelNext = spec.cancelWhileStoring?.includes(input.filename) ?? false;
      return deps.processDocument(input, options, context);
    },
    readPart: async (input, options, context) => {
      report(`read-part ${input.filename} ${options.pages ?? ''}`);
      if (spec.crashParts?.includes(options.pages ?? '')) {
        report(`crash-part ${input.filename} ${options.pages ?? ''}`);
        throw new Error('injected: page worker crashed');
      }
      if (spec.partDelayMs) await new Promise((resolve) => setTimeout(resolve, spec.partDelayMs));
      return deps.readPart(input, options, context);
    },
  };
};

export let handler: ReturnType<typeof makeWorkerHandler> | undefined;

/** Called by the local bootstrap with the function's options before the first invocation. */
export const prepare = (options: { faults?: FaultSpec; counters?: SharedArrayBuffer } | undefined) => {
  const spec = options?.faults ?? {};
  const counters = new Int32Array(
    options?.counters ?? new SharedArrayBuffer(4 * ((spec.crashOnceFilenames?.length ?? 0) + 1)),
  );
  handler = makeWorkerHandler(once(() => withFaults(buildWorkerDeps(process.env), spec, counters)));
};
