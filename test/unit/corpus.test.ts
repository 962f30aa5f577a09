import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../lambdas/errors.js';
import { corpusFiles, fileNameOf } from '../support/corpus.js';
import { fingerprint, LARGE, runCorpusFile } from '../support/golden.js';

/** Files that must fail, and how. Everything else must yield documents. */
const EXPECTED_FAILURES: Record<string, string> = {
  'pdf/password.pdf': 'PDF_PASSWORD_PROTECTED',
};
const NO_TEXT = new Set(['text/empty.txt', 'text/fake-text-all-whitespace.txt']);
/** Damaged files: either they extract, or they fail with DOCUMENT_PARSE_ERROR. */
const DAMAGED = new Set(['pdf/failure-after-repair.pdf', 'pdf/invalid-pdf-structure-pdfminer-one-page.pdf']);
/**
 * Every corpus file's result with default options (a SHA-256 of its JSON,
 * or the failure's code; test/support/golden.ts): a reading change that
 * moves one is a fix to name, and `npx tsx scripts/golden.ts` records it.
 */
const GOLDEN = JSON.parse(readFileSync(new URL('../golden/default-results.json', import.meta.url), 'utf8')) as Record<
  string,
  { whole: string; split: string }
>;

const cases = corpusFiles().flatMap((file) =>
  (LARGE.has(file) ? [true] : [false, true]).map((split) => [file, split] as const),
);

describe('processDocument on every corpus file', () => {
  it.each(cases)('%s (split: %s)', async (file, split) => {
    const outcome = await runCorpusFile(file, split);
    expect(fingerprint(outcome), 'the default result changed').toBe(GOLDEN[file]?.[split ? 'split' : 'whole']);
    const expectedCode = EXPECTED_FAILURES[file];
    if (expectedCode) {
      expect(outcome).toBeInstanceOf(AppError);
      expect((outcome as AppError).code).toBe(expectedCode);
      return;
    }
    if (outcome instanceof AppError) {
      expect(DAMAGED.has(file), `${file} failed with ${outcome.code}: ${outcome.message}`).toBe(true);
      expect(outcome.code).toBe('DOCUMENT_PARSE_ERROR');
      return;
    }
    expect(outcome.status).toBe('success');
    expect(outcome.document_count).toBe(outcome.documents.length);
    if (NO_TEXT.has(file)) {
      expect(outcome.documents).toEqual([]);
      expect(outcome.warnings.map((warning) => warning.code)).toEqual(['NO_TEXT']);
      return;
    }
    expect(outcome.documents.length).toBeGreaterThan(0);
    for (const document of outcome.documents) {
      expect(document.page_content.trim()).not.toBe('');
      expect(document.metadata.source).toBe(`corpus/${file}`);
      expect(document.metadata.filename).toBe(fileNameOf(file));
      if (split) {
        expect(document.page_content.length).toBeLessThanOrEqual(1000);
        expect(document.metadata.chunk_index).toEqual(expect.any(Number));
        expect(document.metadata.start_index).toEqual(expect.any(Number));
      }
    }
  });
});
