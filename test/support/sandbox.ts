import { SandboxPool, type ProcessInSandbox } from '../../lambdas/documents/sandbox.js';

/** The worker's real sandbox, with the limits of a small worker. */
export const testSandbox = new SandboxPool({ memoryMb: 512, keepWarm: 1 });

export const processInSandbox: ProcessInSandbox = (input, options, context) =>
  testSandbox.process(input, options, context);
