import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mixedDocuments, runLoad } from '../../local/load-driver.js';
import { readCorpus } from '../support/corpus.js';
import { isRemote, startTarget, type Target } from '../support/target.js';

let target: Target;

beforeAll(async () => {
  if (!isRemote()) target = await startTarget();
});
afterAll(async () => target?.stop());

// The small version of the load benchmark (npm run bench runs 1,000).
describe.skipIf(isRemote())('load', () => {
  it('100 mixed submissions at concurrency 50: all final, as expected, none lost or duplicated, no 5xx', async () => {
    const report = await runLoad(target.local!, mixedDocuments(100, readCorpus), {
      concurrency: 50,
      pollMs: 100,
      timeoutMs: 60_000,
    });
    expect(report).toMatchObject({
      submitted: 100,
      terminal: 100,
      unexpected: 0,
      lost: 0,
      duplicated: 0,
      serverErrors: 0,
    });
    expect(report.byStatus.SUCCESS).toBeGreaterThan(50);
    expect(report.byStatus.FAILURE).toBeGreaterThan(0);
  });
});
