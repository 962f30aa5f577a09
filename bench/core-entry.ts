// The processing core as the worker bundle carries it (PDF thread entry included).
import '../lambdas/core/loaders/pdf-thread.js';
export { processDocument } from '../lambdas/core/process-document.js';
export { prewarmThreads, defaultThreadCount } from '../lambdas/core/loaders/pdf-pool.js';
