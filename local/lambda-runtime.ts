import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import { backstopHeapMb, isOutOfMemory, watchMemory } from '../lambdas/documents/threads.js';
import { threadExecArgv } from './threads.js';

/** Lambda's limit on a synchronous invocation's request and response payloads. */
export const INVOKE_PAYLOAD_LIMIT_BYTES = 6_291_556;

/** A function as the local runtime runs it: its code, its limits, its environment. */
export interface LocalFunction {
  name: string;
  /** Module that exports `handler` (a source file under lambdas/, or a local wrapper of one). */
  entry: URL;
  timeoutMs: number;
  memoryMb: number;
  /** The whole environment of an instance, as Lambda gives it (nothing else leaks in from this process). */
  environment: Record<string, string>;
  /** Most instances at once (Lambda's concurrency for this function). */
  maxInstances: number;
  /** Data handed to the instance bootstrap as it is (fault injection in tests, the function's policy). */
  options?: Record<string, unknown> | undefined;
  /** The bootstrap module (lambda-thread), bundled; by default its source, run through tsx. */
  bootstrap?: URL | undefined;
  /** A directory for V8's compile cache, shared by the environments. */
  compileCache?: string | undefined;
}

export class InvocationTimeout extends Error {
  constructor(name: string, timeoutMs: number) {
    super(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds (${name})`);
    this.name = 'InvocationTimeout';
  }
}

/** The function failed: it threw, or its runtime died under it (an uncaught error, out of memory). */
export class InvocationFailed extends Error {
  constructor(
    readonly functionName: string,
    readonly errorType: string,
    message: string,
  ) {
    super(`${functionName}: ${errorType}: ${message}`);
    this.name = 'InvocationFailed';
  }
}

/** Lambda refused the invocation: its request payload is over 6 MB. */
export class RequestTooLarge extends Error {
  constructor(
    readonly functionName: string,
    readonly bytes: number,
  ) {
    super(`${functionName}: request payload of ${bytes} bytes is over the ${INVOKE_PAYLOAD_LIMIT_BYTES}-byte limit`);
    this.name = 'RequestTooLarge';
  }
}

/** The Lambda context: `getRemainingTimeInMillis()` counts down to the invocation's deadline. */
export const lambdaContext = (
  fn: { name: string; memoryMb: number },
  requestId: string,
  deadline: number,
): Context => ({
  callbackWaitsForEmptyEventLoop: false,
  functionName: fn.name,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${fn.name}`,
  memoryLimitInMB: String(fn.memoryMb),
  awsRequestId: requestId,
  logGroupName: `/aws/lambda/${fn.name}`,
  logStreamName: 'local',
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

/** What crosses between the runtime and an instance thread. */
export type InstanceRequest = { type: 'invoke'; id: number; event: unknown; requestId: string; deadline: number };
export type InstanceReply =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; errorType: string; message: string }
  | { type: 'notice'; notice: unknown };

export interface InstanceData {
  name: string;
  entry: string;
  memoryMb: number;
  /** Where V8's compile cache for the bundles lives (node_modules/.cache). */
  compileCache?: string | undefined;
  options?: Record<string, unknown> | undefined;
}

const SOURCE_BOOTSTRAP = new URL(
  `./lambda-thread${fileURLToPath(import.meta.url).endsWith('.ts') ? '.ts' : '.js'}`,
  import.meta.url,
);

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * One execution environment: a worker thread that imports the function's
 * module once (its cold start) and then runs one invocation at a time, as a
 * Lambda sandbox does. It has its own `process.env`, module state and SDK
 * clients; an uncaught error or a heap past the function's memory ends this
 * thread only, never the process.
 */
class Instance {
  readonly worker: Worker;
  /** The cold start: the module imported. Not counted in an invocation's timeout, as Lambda's init is not. */
  readonly ready: Promise<void>;
  private pending = new Map<number, Pending>();
  private nextId = 0;
  private stopping: Promise<void> | undefined;
  dead = false;

  constructor(
    private readonly fn: LocalFunction,
    onNotice: (notice: unknown) => void,
  ) {
    const bootstrap = fn.bootstrap ?? SOURCE_BOOTSTRAP;
    const data: InstanceData = {
      name: fn.name,
      entry: fn.entry.href,
      memoryMb: fn.memoryMb,
      options: fn.options,
      compileCache: fn.compileCache,
    };
    this.worker = new Worker(bootstrap, {
      workerData: data,
      env: fn.environment,
      resourceLimits: { maxOldGenerationSizeMb: backstopHeapMb(fn.memoryMb) },
      execArgv: threadExecArgv(bootstrap),
    });
    let initialised: () => void = () => {};
    let initFailed: (error: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      initialised = resolve;
      initFailed = reject;
    });
    this.ready.catch(() => {}); // also reported to the invocation waiting for it
    this.worker.on('message', (reply: InstanceReply) => {
      if (reply.type === 'notice') return onNotice(reply.notice);
      if (reply.type === 'ready') return initialised();
      const pending = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.type === 'result') pending?.resolve(reply.result);
      else pending?.reject(new InvocationFailed(fn.name, reply.errorType, reply.message));
    });
    const die = (errorType: string, message: string) => {
      this.dead = true;
      initFailed(new InvocationFailed(fn.name, 'Runtime.InitError', message));
      for (const pending of this.pending.values()) pending.reject(new InvocationFailed(fn.name, errorType, message));
      this.pending.clear();
    };
    this.worker.on('error', (error: Error) =>
      die(isOutOfMemory(error) ? 'Runtime.OutOfMemory' : 'Runtime.ExitError', error.message),
    );
    this.worker.on('exit', (code) => die('Runtime.ExitError', `the runtime exited with code ${code}`));
  }

  /** Runs one invocation; its memory is watched like Lambda's limit, which stops the sandbox. */
  invoke(event: unknown, requestId: string, deadline: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const stopWatch = watchMemory(this.worker, this.fn.memoryMb * 1024 * 1024, () => {
        this.pending.delete(id);
        reject(new InvocationFailed(this.fn.name, 'Runtime.OutOfMemory', `more than ${this.fn.memoryMb} MB used`));
        void this.stop();
      });
      this.pending.set(id, {
        resolve: (value) => {
          stopWatch();
          resolve(value);
        },
        reject: (error) => {
          stopWatch();
          reject(error);
        },
      });
      const request: InstanceRequest = { type: 'invoke', id, event, requestId, deadline };
      this.worker.postMessage(request);
    });
  }

  /** Ends the environment (once; later calls wait for the same end); an invocation still in it fails. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.dead = true;
      for (const pending of this.pending.values()) {
        pending.reject(new InvocationFailed(this.fn.name, 'Runtime.Stopped', 'the execution environment was stopped'));
      }
      this.pending.clear();
      await this.worker.terminate();
    })();
    return this.stopping;
  }
}

/**
 * The execution environments of one function: an idle one takes the next
 * invocation, or a new one starts (a cold start), up to `maxInstances`; beyond
 * that, invocations wait their turn. An invocation past its timeout has its
 * instance stopped, as Lambda stops the sandbox; an instance that dies is
 * replaced by the next invocation.
 */
export class FunctionRuntime {
  private idle: Instance[] = [];
  private readonly all = new Set<Instance>();
  private waiting: Array<() => void> = [];
  private running = 0;
  private stopped = false;

  constructor(
    readonly fn: LocalFunction,
    private readonly onNotice: (notice: unknown) => void = () => {},
    /** After each invocation: how long the handler ran and whether it failed (Lambda's Duration and Errors). */
    private readonly onInvoked: (outcome: { durationMs: number; failed: boolean }) => void = () => {},
  ) {}

  /** Invocations under way. */
  get busy(): number {
    return this.running;
  }

  /** Execution environments alive (busy or idle). */
  get instances(): number {
    return this.all.size;
  }

  private async acquire(): Promise<Instance> {
    while (this.all.size - this.idle.length >= this.fn.maxInstances) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    for (let instance = this.idle.pop(); instance; instance = this.idle.pop()) {
      if (!instance.dead) return instance;
      this.all.delete(instance);
    }
    const instance = new Instance(this.fn, this.onNotice);
    this.all.add(instance);
    return instance;
  }

  private release(instance: Instance, healthy: boolean): void {
    if (healthy && !instance.dead && !this.stopped) this.idle.push(instance);
    else {
      this.all.delete(instance);
      void instance.stop();
    }
    this.waiting.shift()?.();
  }

  /** Invokes like Lambda: the payload limit, a fresh context, the timeout, and a failure for anything the function throws. */
  async invoke<R = unknown>(event: unknown, options: { requestId?: string; timeoutMs?: number } = {}): Promise<R> {
    if (this.stopped) throw new InvocationFailed(this.fn.name, 'Runtime.Stopped', 'the local stack is stopping');
    const size = Buffer.byteLength(JSON.stringify(event ?? null));
    if (size > INVOKE_PAYLOAD_LIMIT_BYTES) throw new RequestTooLarge(this.fn.name, size);
    const timeoutMs = Math.min(options.timeoutMs ?? this.fn.timeoutMs, this.fn.timeoutMs);
    const instance = await this.acquire();
    this.running++;
    let timer: NodeJS.Timeout | undefined;
    let healthy = false;
    let startedAt: number | undefined;
    try {
      await instance.ready;
      startedAt = Date.now();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new InvocationTimeout(this.fn.name, timeoutMs)), timeoutMs);
      });
      const result = (await Promise.race([
        instance.invoke(event, options.requestId ?? randomUUID(), Date.now() + timeoutMs),
        timeout,
      ])) as R;
      if (Buffer.byteLength(JSON.stringify(result ?? null)) > INVOKE_PAYLOAD_LIMIT_BYTES) {
        throw new InvocationFailed(this.fn.name, 'Function.ResponseSizeTooLarge', 'response payload over 6 MB');
      }
      healthy = true;
      this.onInvoked({ durationMs: Date.now() - startedAt, failed: false });
      return result;
    } catch (error) {
      if (startedAt !== undefined) this.onInvoked({ durationMs: Date.now() - startedAt, failed: true });
      // A function that threw goes on serving; a timed-out or dead one is replaced.
      healthy = !(error instanceof InvocationTimeout) && !instance.dead;
      throw error;
    } finally {
      clearTimeout(timer);
      this.running--;
      this.release(instance, healthy);
    }
  }

  /** Starts up to `count` environments ahead of traffic and waits for their cold starts. */
  async prewarm(count = 1): Promise<void> {
    const started: Instance[] = [];
    while (!this.stopped && this.all.size < Math.min(count, this.fn.maxInstances)) {
      const instance = new Instance(this.fn, this.onNotice);
      this.all.add(instance);
      this.idle.push(instance);
      started.push(instance);
    }
    await Promise.all(started.map((instance) => instance.ready.catch(() => undefined)));
  }

  /** Stops taking invocations; lets those under way finish for `graceMs`, then stops every instance. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    const until = Date.now() + graceMs;
    while (this.running > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    for (const release of this.waiting) release();
    this.waiting = [];
    await Promise.all([...this.all].map((instance) => instance.stop()));
    this.all.clear();
    this.idle = [];
  }
}
