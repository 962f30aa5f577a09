import { createHash } from 'node:crypto';
import { AppError } from '../../lambdas/errors.js';
import type { ProcessingResult } from '../../lambdas/documents/document.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { fileNameOf, readCorpus } from './corpus.js';

/**
 * The golden default results (test/golden/default-results.json): every
 * corpus file read with default options, whole and split, as a SHA-256 of
 * the result's JSON or the failure's code. `npx tsx scripts/golden.ts`
 * writes them anew after a reading change; each change is a fix to name.
 */

/** Read once (with split) to keep the suite fast; the bench measures them. */
export const LARGE = new Set(['pdf/DA-619p.pdf', 'docx/handbook-872p.docx']);

export const runCorpusFile = async (file: string, split: boolean): Promise<ProcessingResult | AppError> => {
  try {
    return await processDocument(
      { bytes: readCorpus(file), filename: fileNameOf(file), source: `corpus/${file}` },
      { split, chunk_size: 1000, chunk_overlap: 200 },
    );
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
};

export const fingerprint = (outcome: ProcessingResult | AppError): string =>
  outcome instanceof AppError
    ? `error ${outcome.code}`
    : createHash('sha256').update(JSON.stringify(outcome)).digest('hex');
