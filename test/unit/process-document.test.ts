import { describe, expect, it } from 'vitest';
import { AppError, RunStopped } from '../../lambdas/errors.js';
import { OPTION_DEFAULTS } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import type { ProgressUpdate } from '../../lambdas/documents/progress.js';
import { readCorpus } from '../support/corpus.js';
import { failureOf } from '../support/failures.js';

describe('processDocument', () => {
  it('reports monotonic progress through parsing and splitting', async () => {
    const updates: ProgressUpdate[] = [];
    await processDocument(
      { bytes: readCorpus('pdf/layout-parser-paper-fast.pdf'), filename: 'paper.pdf' },
      { split: true, chunk_size: 500, chunk_overlap: 50 },
      { onProgress: (update) => updates.push(update) },
    );
    expect(updates.map((update) => update.stage)).toContain('parsing');
    expect(updates.at(-1)).toEqual({ stage: 'splitting', progress: 90 });
    for (let index = 1; index < updates.length; index++) {
      expect(updates[index]!.progress).toBeGreaterThanOrEqual(updates[index - 1]!.progress);
    }
  });

  it('throws the abort reason when cancelled before it starts', async () => {
    const controller = new AbortController();
    const reason = new RunStopped('cancelled');
    controller.abort(reason);
    const error = await processDocument(
      { bytes: readCorpus('text/fake-text.txt'), filename: 'a.txt' },
      OPTION_DEFAULTS,
      { signal: controller.signal },
    ).catch((thrown: unknown) => thrown);
    expect(error).toBe(reason);
  });

  it('stops between blocks of pages when the signal fires mid-document', async () => {
    const controller = new AbortController();
    const reason = new AppError('SOFT_TIME_LIMIT', 'out of time');
    let pagesSeen = 0;
    const error = await failureOf(
      processDocument({ bytes: readCorpus('pdf/DA-619p.pdf'), filename: 'da.pdf' }, OPTION_DEFAULTS, {
        signal: controller.signal,
        limits: { pdfThreads: 1 },
        onProgress: ({ progress }) => {
          pagesSeen++;
          if (progress >= 12) controller.abort(reason);
        },
      }),
    );
    expect(error).toBe(reason);
    expect(pagesSeen).toBeLessThan(10);
  });

  it('gives the same pages with PDF threads as without', async () => {
    const bytes = readCorpus('pdf/layout-parser-paper-fast.pdf');
    const sequential = await processDocument({ bytes, filename: 'p.pdf' }, OPTION_DEFAULTS, {
      limits: { pdfThreads: 1 },
    });
    const threaded = await processDocument({ bytes, filename: 'p.pdf' }, OPTION_DEFAULTS, {
      limits: { pdfThreads: 2, pdfParallelMinPages: 2 },
    });
    expect(threaded.documents).toEqual(sequential.documents);
    expect(threaded.documents.length).toBeGreaterThan(1);
  });

  it('refuses PDFs with more pages than allowed', async () => {
    const error = await failureOf(
      processDocument({ bytes: readCorpus('pdf/multi-column-2p.pdf'), filename: 'a.pdf' }, OPTION_DEFAULTS, {
        limits: { maxPages: 1 },
      }),
    );
    expect(error.code).toBe('DOCUMENT_TOO_LARGE');
  });

  it('refuses inputs over the size limit before parsing', async () => {
    const error = await failureOf(
      processDocument({ bytes: Buffer.alloc(2048, 'a'), filename: 'a.txt' }, OPTION_DEFAULTS, {
        limits: { maxInputBytes: 1024 },
      }),
    );
    expect(error.code).toBe('DOCUMENT_TOO_LARGE');
  });

  it('reports a damaged DOCX as DOCUMENT_PARSE_ERROR', async () => {
    const bytes = Buffer.from(readCorpus('docx/fake.docx'));
    const truncated = bytes.subarray(0, bytes.length - 200);
    const error = await failureOf(processDocument({ bytes: truncated, filename: 'broken.docx' }, OPTION_DEFAULTS));
    expect(error.code).toBe('DOCUMENT_PARSE_ERROR');
  });
});
