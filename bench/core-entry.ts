// The processing core as the worker bundle carries it (thread entry included).
import '../lambdas/core/thread-main.js';
export { processDocument } from '../lambdas/core/process-document.js';
export { prewarmThreads, defaultThreadCount } from '../lambdas/core/loaders/pdf-pool.js';
export { SandboxPool } from '../lambdas/core/sandbox.js';
