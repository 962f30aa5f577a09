import { afterAll, describe, expect, it } from 'vitest';
import { OPTION_DEFAULTS } from '../../lambdas/documents/options.js';
import { processDocument, type DocumentInput } from '../../lambdas/documents/process-document.js';
import { SandboxPool } from '../../lambdas/documents/sandbox.js';
import { AppError, RunStopped } from '../../lambdas/errors.js';
import { readCorpus } from '../support/corpus.js';

const pools: SandboxPool[] = [];
const pool = (settings: Partial<ConstructorParameters<typeof SandboxPool>[0]> = {}) => {
  const created = new SandboxPool({ memoryMb: 512, keepWarm: 1, ...settings });
  pools.push(created);
  return created;
};
afterAll(async () => {
  await Promise.all(pools.map((created) => created.close()));
});

const failureOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error instanceof AppError ? { code: error.code, message: error.message } : { code: String(error) };
  }
  return undefined;
};

const corpusInput = (file: string): DocumentInput => ({ bytes: readCorpus(file), filename: file.split('/').pop()! });

describe('sandbox', () => {
  const shared = pool();

  it.each(['pdf/fake-memo.pdf', 'docx/fake.docx', 'html/example-with-scripts.html', 'zh/zh-memo.md'])(
    'gives exactly the JSON of processDocument for %s',
    async (file) => {
      const options = { split: true, chunk_size: 200, chunk_overlap: 20 };
      const direct = await processDocument(corpusInput(file), options);
      const sandboxed = await shared.process(corpusInput(file), options);
      expect(new TextDecoder().decode(sandboxed.json)).toBe(JSON.stringify(direct));
      const { documents: _documents, ...headline } = direct;
      expect(sandboxed.headline).toEqual(headline);
    },
  );

  it('keeps one warm thread for documents that follow each other, and reports progress', async () => {
    const warm = pool();
    const updates: number[] = [];
    for (let run = 0; run < 3; run++) {
      await warm.process(corpusInput('pdf/fake-memo.pdf'), OPTION_DEFAULTS, {
        onProgress: ({ progress }) => updates.push(progress),
      });
    }
    expect(warm.stats).toMatchObject({ started: 1, stopped: 0, jobs: 3 });
    expect(updates.length).toBeGreaterThan(0);
  });

  it('stops the thread at the deadline with SOFT_TIME_LIMIT, and the next document still runs', async () => {
    const timed = pool();
    const failure = await failureOf(
      timed.process(corpusInput('pdf/DA-619p.pdf'), OPTION_DEFAULTS, { deadline: Date.now() + 150 }),
    );
    expect(failure?.code).toBe('SOFT_TIME_LIMIT');
    const next = await timed.process({ bytes: Buffer.from('after'), filename: 'a.txt' }, OPTION_DEFAULTS);
    expect(next.headline.document_count).toBe(1);
  });

  it('terminates the thread on cancellation and rejects with the reason', async () => {
    const cancelled = pool();
    const controller = new AbortController();
    const running = cancelled.process(corpusInput('pdf/DA-619p.pdf'), OPTION_DEFAULTS, {
      signal: controller.signal,
      onProgress: () => controller.abort(new RunStopped('The task was cancelled.')),
    });
    const error = await running.catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(RunStopped);
    expect((error as Error).message).toBe('The task was cancelled.');
    expect(cancelled.stats.stopped).toBe(1);
  });

  it('stops a document whose memory outside the heap passes the budget: DOCUMENT_TOO_LARGE', async () => {
    const small = pool({ memoryMb: 64 });
    // 48 MB of text: the decoded string and its JSON outgrow 64 MB beyond the input.
    const text = Buffer.alloc(48 * 1024 * 1024, 'abc ');
    const failure = await failureOf(small.process({ bytes: text, filename: 'big.txt' }, OPTION_DEFAULTS));
    expect(failure).toMatchObject({ code: 'DOCUMENT_TOO_LARGE', message: expect.stringContaining('more memory') });
    expect(small.stats.stopped).toBe(1);
  });

  it('refuses a result larger than the JSON cap', async () => {
    const text = Buffer.from('zz '.repeat(100_000));
    const failure = await failureOf(
      shared.process(
        { bytes: text, filename: 'a.txt' },
        { split: true, chunk_size: 10, chunk_overlap: 9 },
        { limits: { maxResultBytes: 1024 * 1024 } },
      ),
    );
    expect(failure?.code).toBe('DOCUMENT_TOO_LARGE');
  });

  it('splits a separator-less text of 20 M characters within 384 MB (the old splitter needed 2.2 GB)', async () => {
    const bounded = pool({ memoryMb: 384 });
    const result = await bounded.process(
      { bytes: Buffer.alloc(20_000_000, 'x'), filename: 'x.txt' },
      { split: true, chunk_size: 1000, chunk_overlap: 200 },
    );
    expect(result.headline.document_count).toBe(25_000);
  });
});
