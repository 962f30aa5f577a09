/**
 * Where every thread of the processing core starts (see threads.ts). The
 * worker Lambda imports this module first, so that its bundle, which threads
 * re-enter, runs this check before anything else.
 */
import { isMainThread, workerData } from 'node:worker_threads';
import { roleOf } from './threads.js';

const role = isMainThread ? undefined : roleOf(workerData);
if (role === 'sandbox') void import('./sandbox-thread.js').then(({ serveSandbox }) => serveSandbox());
if (role === 'pdf-pages') void import('./loaders/pdf.js').then(({ servePdfThread }) => servePdfThread());
