import { readFileSync, writeFileSync } from 'node:fs';
import { corpusFiles } from '../test/support/corpus.js';
import { fingerprint, runCorpusFile } from '../test/support/golden.js';

/**
 * `npx tsx scripts/golden.ts`: records the golden default results
 * (test/golden/default-results.json) anew, and names the files whose result
 * changed. Run it only for a reading change whose every moved result is a
 * fix to name in its note.
 */
const path = new URL('../test/golden/default-results.json', import.meta.url);
const before = JSON.parse(readFileSync(path, 'utf8')) as Record<string, { whole: string; split: string }>;
const after: Record<string, { whole: string; split: string }> = {};
for (const file of corpusFiles()) {
  const split = fingerprint(await runCorpusFile(file, true));
  after[file] = { whole: fingerprint(await runCorpusFile(file, false)), split };
  const old = before[file];
  if (old?.split !== after[file].split || old.whole !== after[file].whole) console.log(`changed: ${file}`);
}
writeFileSync(path, `${JSON.stringify(after, null, 2)}\n`);
