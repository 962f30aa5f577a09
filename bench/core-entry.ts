// The processing core as the worker bundle carries it (thread entry included).
import '../lambdas/documents/thread-main.js';
export { processDocument } from '../lambdas/documents/process-document.js';
export { prewarmThreads, defaultThreadCount } from '../lambdas/documents/loaders/pdf-pool.js';
export { SandboxPool } from '../lambdas/documents/sandbox.js';
