/**
 * `npm run bench [section...]`: loaders (sandboxed and not), splitter,
 * structure (Markdown output, token counting), bundles, the embedded
 * pipeline (sandboxed and not, with the bus events of each run), webhooks
 * under a burst, hostile documents, the result cache (a large PDF, miss vs hit),
 * a batch of a 10,000-object prefix, the formats of issue 15 (PPTX, ODT, EPUB, XLSX, e-mail), and the
 * reading quality on the public reference set (quality.ts), figures on it (figures.ts), OCR against the tesseract CLI, and a
 * long scan read through page fan-out (fan-out.ts, `fanout [PAGES]`).
 * Prints tables and writes bench/results/latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { benchBatches } from './batches.js';
import { benchBombs } from './bombs.js';
import { benchBundles } from './bundles.js';
import { benchFanOut } from './fan-out.js';
import { benchFigures } from './figures.js';
import { benchFormats } from './formats.js';
import { benchLadder } from './ladder.js';
import { benchLoaders } from './loaders.js';
import { benchOcr } from './ocr.js';
import { benchPipeline, benchWebhooks } from './pipeline.js';
import { benchQuality } from './quality.js';
import { benchResultCache } from './result-cache.js';
import { benchSplitter } from './splitter.js';
import { benchStructure } from './structure.js';
import { ROOT } from './support.js';

const sections: Record<string, () => Promise<unknown>> = {
  loaders: benchLoaders,
  splitter: benchSplitter,
  structure: benchStructure,
  bundles: benchBundles,
  pipeline: benchPipeline,
  webhooks: benchWebhooks,
  bombs: benchBombs,
  cache: benchResultCache,
  batches: benchBatches,
  formats: benchFormats,
  quality: () => benchQuality(),
  figures: benchFigures,
  ocr: benchOcr,
  ladder: benchLadder,
  fanout: benchFanOut,
};

/** Sections run only when named: the long scan takes minutes of both cores. */
const ON_REQUEST = new Set(['fanout']);
const only = process.argv.slice(2);
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const report: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
};
for (const [name, run] of Object.entries(sections)) {
  if (only.length ? !only.includes(name) : ON_REQUEST.has(name)) continue;
  report[name] = await run();
}
const out = join(ROOT, 'bench/results/latest.json');
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nwrote ${out}`);
