/**
 * The worker without its sandbox (the benchmark's baseline only, never
 * deployed): the same handler and dependencies, with documents processed on
 * the function's own thread, so `npm run bench` can show what the sandbox
 * costs in the same run.
 */
import { once } from '../lambdas/cold-start.js';
import { serializeResult } from '../lambdas/documents/document.js';
import { DEFAULT_LIMITS } from '../lambdas/documents/limits.js';
import { processDocument } from '../lambdas/documents/process-document.js';
import { buildWorkerDeps } from '../lambdas/consumers/worker-deps.js';
import { makeWorkerHandler } from '../lambdas/consumers/worker.js';

export const handler = makeWorkerHandler(
  once(() => ({
    ...buildWorkerDeps(process.env),
    processDocument: async (input, options, context) =>
      serializeResult(await processDocument(input, options, context), DEFAULT_LIMITS.maxResultBytes),
  })),
);
