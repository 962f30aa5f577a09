import { isMainThread, Worker, workerData, type ResourceLimits } from 'node:worker_threads';

/**
 * Worker threads of the processing core: sandboxes that parse untrusted
 * bytes, and the PDF threads a sandbox reads large PDFs with.
 *
 * Every thread starts the same module: `thread-main.ts` in development and,
 * once esbuild has made one file of the worker, the bundle itself (this
 * module's own URL then). That module sends the thread to the loop of its
 * role, which `workerData` names.
 */
export type ThreadRole = 'sandbox' | 'pdf-pages';

interface ThreadData {
  'docproc:role': ThreadRole;
  options?: unknown;
}

const here = new URL(import.meta.url);
const fromSource = here.pathname.endsWith('.ts');
const entry = fromSource ? new URL('./thread-main.ts', here) : here;

/**
 * Development runs TypeScript through tsx (once: nested threads inherit it).
 * The bundle needs no flags, and must not inherit the parent's (a process
 * started with `--input-type` cannot start a thread from a file).
 */
const execArgv = (): string[] => {
  if (!fromSource) return [];
  const hasTsx = process.execArgv.some((arg) => arg.includes('tsx'));
  return hasTsx ? [...process.execArgv] : [...process.execArgv, '--import', 'tsx'];
};

export const startThread = (role: ThreadRole, resourceLimits: ResourceLimits, options?: unknown): Worker =>
  new Worker(entry, {
    workerData: { 'docproc:role': role, options } satisfies ThreadData,
    resourceLimits,
    execArgv: execArgv(),
  });

export const roleOf = (data: unknown): ThreadRole | undefined => (data as Partial<ThreadData> | null)?.['docproc:role'];

/** Whether this thread is one of the processing core's own (a sandbox or a PDF thread re-entering the bundle). */
export const isProcessingThread = (): boolean => !isMainThread && roleOf(workerData) !== undefined;

export const optionsOf = <T>(data: unknown): T | undefined => (data as Partial<ThreadData> | null)?.options as T;

/**
 * V8's heap limit for a thread whose memory the watchdog (`watchMemory`)
 * bounds at `budgetMb`. The limit is a backstop far above the budget: when a
 * thread reaches its limit, Node gives it 16 MB of slack to stop, and one
 * allocation larger than that (an array being doubled past 16 MB) aborts the
 * whole process instead. A single V8 object is at most about 1 GB, so with
 * this headroom the watchdog always acts first.
 */
export const backstopHeapMb = (budgetMb: number): number => budgetMb + 1536;

/** Whether a thread died because its heap hit `maxOldGenerationSizeMb`. */
export const isOutOfMemory = (error: unknown): boolean =>
  (error as { code?: string } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';

/**
 * Polls a busy thread's heap and external memory (array buffers: decoded
 * streams, inflated zip entries live there, outside the heap limit) and calls
 * `exceeded` once their sum passes `limitBytes`. Returns the stop function.
 */
export const watchMemory = (
  worker: Worker,
  limitBytes: number,
  exceeded: (usedBytes: number) => void,
  intervalMs = 50,
): (() => void) => {
  // Node before 22.16 has no Worker.getHeapStatistics (the service needs 24): the heap limit alone applies there.
  if (typeof worker.getHeapStatistics !== 'function') return () => {};
  let stopped = false;
  let polling = false;
  const timer = setInterval(() => {
    if (polling || stopped) return;
    polling = true;
    worker.getHeapStatistics().then(
      (stats) => {
        polling = false;
        const used = stats.used_heap_size + stats.external_memory;
        if (!stopped && used > limitBytes) {
          stopped = true;
          clearInterval(timer);
          exceeded(used);
        }
      },
      () => {
        polling = false; // the thread is gone; its exit is reported elsewhere
      },
    );
  }, intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
};
