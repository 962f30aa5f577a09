import './lambdas/core/loaders/pdf-thread.js';
export { processDocument } from './lambdas/core/process-document.js';
