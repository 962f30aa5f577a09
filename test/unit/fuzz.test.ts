import { afterAll, describe, expect, it } from 'vitest';
import { documentCase, runDocumentCase, SEED_FILES } from '../../fuzz/documents.js';
import { generatedSeeds } from '../../fuzz/formats.js';
import { prng } from '../../fuzz/random.js';
import { SandboxPool } from '../../lambdas/documents/sandbox.js';
import { readCorpus } from '../support/corpus.js';

/**
 * A bounded, seeded run of the parser-boundary fuzzer (`npm run fuzz` runs it
 * for as long as asked): mutated corpus files of every format and generated
 * nesting and compression, each through the sandbox with a 256 MB budget and
 * a deadline. Every case must end in a result or a failure with a code.
 */
const CASES = 50;
const sandbox = new SandboxPool({ memoryMb: 256, keepWarm: 1 });
afterAll(() => sandbox.close());

describe('fuzzing the parser boundary (seeded)', () => {
  it(`ends ${CASES} mutated and generated documents in a result or a typed failure`, async () => {
    const random = prng(20261128);
    const seeds = new Map([
      ...SEED_FILES.map((file) => [file, new Uint8Array(readCorpus(file))] as const),
      ...(await generatedSeeds()),
    ]);
    const outcomes = new Map<string, number>();
    for (let index = 0; index < CASES; index++) {
      const input = await documentCase(random, seeds, index);
      const verdict = await runDocumentCase(sandbox, input, 10_000);
      expect(verdict, input.name).toMatchObject({ ok: true });
      if (verdict.ok) outcomes.set(verdict.outcome, (outcomes.get(verdict.outcome) ?? 0) + 1);
    }
    // The run reaches both sides of the boundary: documents read and documents refused.
    expect([...outcomes.keys()].some((outcome) => outcome.startsWith('SUCCESS'))).toBe(true);
    expect([...outcomes.keys()].some((outcome) => !outcome.startsWith('SUCCESS'))).toBe(true);
  });
});
