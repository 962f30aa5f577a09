import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** A function as the local runtime runs it: its handler, its timeout, its environment. */
export interface LocalFunction<E = unknown, R = unknown> {
  name: string;
  timeoutMs: number;
  memoryMb: number;
  /** The environment the CDK stack gives the function (resource names included). */
  environment: Record<string, string>;
  handler: (event: E, context: Context) => Promise<R>;
}

export class InvocationTimeout extends Error {
  constructor(name: string, timeoutMs: number) {
    super(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds (${name})`);
    this.name = 'InvocationTimeout';
  }
}

/** The Lambda context: `getRemainingTimeInMillis()` counts down from the function's timeout. */
export const lambdaContext = (fn: LocalFunction, requestId: string = randomUUID()): Context => {
  const deadline = Date.now() + fn.timeoutMs;
  return {
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
  };
};

/**
 * Invokes like Lambda does: with a fresh context, failing with a timeout error
 * when the function runs past its timeout. (Lambda would also freeze the
 * sandbox; here the late work is left to finish and its result is dropped.)
 */
export const invoke = async <E, R>(fn: LocalFunction<E, R>, event: E, requestId?: string): Promise<R> => {
  const context = lambdaContext(fn as LocalFunction, requestId);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InvocationTimeout(fn.name, fn.timeoutMs)), fn.timeoutMs);
  });
  try {
    return await Promise.race([fn.handler(event, context), timeout]);
  } finally {
    clearTimeout(timer);
  }
};
