import {
  SandboxPool,
  type AssembleInSandbox,
  type ProcessInSandbox,
  type ReadPartInSandbox,
} from '../../lambdas/documents/sandbox.js';

/** The worker's real sandbox, with the limits of a small worker. */
export const testSandbox = new SandboxPool({ memoryMb: 512, keepWarm: 1 });

export const processInSandbox: ProcessInSandbox = (input, options, context) =>
  testSandbox.process(input, options, context);

export const readPartInSandbox: ReadPartInSandbox = (input, options, context) =>
  testSandbox.readPart(input, options, context);

export const assembleInSandbox: AssembleInSandbox = (parts, options, context) =>
  testSandbox.assemble(parts, options, context);
