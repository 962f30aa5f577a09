/**
 * Entry point of the worker threads that read page ranges of large PDFs.
 *
 * A thread starts the module at `pdfThreadEntry`: this file in development and,
 * once esbuild has made one file of the worker, the bundle itself. Either way
 * the module evaluates this check, which hands the thread to the PDF loader.
 * The worker Lambda imports this module first, so its bundle keeps the check.
 */
import { isMainThread, workerData } from 'node:worker_threads';

export const PDF_THREAD_ROLE = 'docproc:pdf-pages';

export const pdfThreadEntry = new URL(import.meta.url);

const data = workerData as { role?: string } | null;
if (!isMainThread && data?.role === PDF_THREAD_ROLE) {
  void import('./pdf.js').then(({ servePdfThread }) => servePdfThread());
}
