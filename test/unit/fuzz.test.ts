import { describe, expect, it } from 'vitest';
import { AppError, ERROR_CATALOGUE } from '../../lambdas/core/errors.js';
import { processDocument } from '../../lambdas/core/process-document.js';
import { readCorpus } from '../support/corpus.js';

/** mulberry32: a small seeded PRNG, so every run fuzzes the same inputs. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const random = prng(20261127);
const int = (max: number) => Math.floor(random() * max);
const bytes = (length: number) => Uint8Array.from({ length }, () => int(256));

const PREFIXES = [
  '%PDF-1.7\n',
  'PK\u0003\u0004',
  '<!doctype html><html><body>',
  '\u00ef\u00bb\u00bf',
  '\u00ff\u00fe',
  '{"a":',
  '',
];
const SEEDS = [
  'pdf/fake-memo.pdf',
  'pdf/embedded-cmap-cidfont.pdf',
  'pdf/rotated-page-90.pdf',
  'docx/fake.docx',
  'zh/zh-memo.docx',
  'html/fake-html-cp1252.html',
  'text/fake-text-utf-16-le.txt',
];

const cases: Array<[string, Uint8Array]> = [];
for (let index = 0; index < 40; index++) {
  const prefix = Buffer.from(PREFIXES[index % PREFIXES.length]!, 'latin1');
  cases.push([
    `random ${index} (${prefix.length ? JSON.stringify(prefix.toString('latin1').slice(0, 6)) : 'no prefix'})`,
    Buffer.concat([prefix, bytes(int(4096))]),
  ]);
}
for (const seed of SEEDS) {
  const original = readCorpus(seed);
  for (let index = 0; index < 6; index++) {
    const truncated = original.subarray(0, int(original.length));
    cases.push([`${seed} truncated to ${truncated.length}`, truncated]);
  }
  for (let index = 0; index < 6; index++) {
    const flipped = Buffer.from(original);
    const flips = 1 + int(24);
    for (let flip = 0; flip < flips; flip++) {
      const at = int(flipped.length);
      flipped[at] = (flipped[at] ?? 0) ^ (1 << int(8));
    }
    cases.push([`${seed} with ${flips} bit flips`, flipped]);
  }
}

describe('fuzzing processDocument (seeded)', () => {
  it.each(cases)('%s: a result or a typed error, within the budget', async (_name, input) => {
    const started = Date.now();
    try {
      const result = await processDocument(
        { bytes: input, filename: 'fuzz.bin' },
        { split: true, chunk_size: 200, chunk_overlap: 20 },
        { deadline: started + 10_000, limits: { pdfThreads: 1 } },
      );
      expect(result.status).toBe('success');
      expect(result.document_count).toBe(result.documents.length);
    } catch (error) {
      expect(error, String((error as Error)?.stack)).toBeInstanceOf(AppError);
      expect(Object.keys(ERROR_CATALOGUE)).toContain((error as AppError).code);
    }
  });
});
