import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { commentStorm, deepHtml, docxBomb, pdfBomb, zipOf, CONTENT_TYPES_PART } from '../fuzz/hostile.js';
import { BUNDLE_TARGET, ESM_REQUIRE_BANNER } from '../lib/bundling.js';
import { printTable, ROOT, round } from './support.js';

/** Each hostile document of the robustness review, through the sandbox of the worker bundle, in a process of its own. */
const BOMBS: Array<[string, () => Uint8Array | Promise<Uint8Array>, string, Record<string, unknown>]> = [
  ['PDF: 256 KB, a stream inflating to 256 MB', () => pdfBomb(256), 'bomb.pdf', {}],
  ['DOCX: a part inflating to 300 MB', () => docxBomb(300), 'bomb.docx', {}],
  [
    'DOCX: 300 MB part, entry count set to 0',
    async () => {
      const bytes = await zipOf([CONTENT_TYPES_PART, ['word/document.xml', new Uint8Array(300 * 1024 * 1024)]]);
      const eocd = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
      bytes.fill(0, eocd + 8, eocd + 12);
      return bytes;
    },
    'liar.docx',
    {},
  ],
  ['HTML: 2.2 MB of unclosed <div>', () => deepHtml(440_000), 'deep.html', {}],
  ['Detection: <!----> × 50 000', () => commentStorm(50_000), 'comments.html', {}],
  [
    'Splitter: 20 KB, chunk_size 10, overlap 9',
    () => Buffer.from('z'.repeat(20_000)),
    'amplified.txt',
    { split: true, chunk_size: 10, chunk_overlap: 9 },
  ],
  ['Splitter: 20 M characters with no separator', () => Buffer.alloc(20_000_000, 'x'), 'line.txt', { split: true }],
];

const CHILD = `
const [bundle, file, name, options] = process.argv.slice(1);
const { readFileSync } = await import('node:fs');
const { SandboxPool } = await import(bundle);
const pool = new SandboxPool({ memoryMb: 1228 });
await pool.prewarm(1);
const bytes = readFileSync(file);
const started = performance.now();
let outcome;
try {
  const { headline } = await pool.process({ bytes, filename: name }, { split: false, chunk_size: 1000, chunk_overlap: 200, ...JSON.parse(options) }, { deadline: Date.now() + 240_000 });
  outcome = 'SUCCESS (' + headline.document_count + ' documents)';
} catch (error) { outcome = error.code ?? String(error); }
const ms = performance.now() - started;
await pool.close();
// VmHWM, not getrusage's maxRSS: Linux keeps ru_maxrss across exec (the bench's own peak would show).
const peak = Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;
process.stdout.write(JSON.stringify({ outcome, ms, maxRssMb: peak }));
`;

export const benchBombs = async () => {
  const dir = join(ROOT, 'bench/results/bombs');
  mkdirSync(dir, { recursive: true });
  const bundle = join(dir, 'worker.mjs');
  await build({
    entryPoints: [join(ROOT, 'bench/core-entry.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: BUNDLE_TARGET,
    minify: true,
    outfile: bundle,
    banner: { js: ESM_REQUIRE_BANNER },
    logLevel: 'error',
  });
  const rows = [];
  for (const [title, make, name, options] of BOMBS) {
    const bytes = await make();
    const file = join(tmpdir(), `docproc-bomb-${name}`);
    writeFileSync(file, bytes);
    const child = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', CHILD, bundle, file, name, JSON.stringify(options)],
      {
        encoding: 'utf8',
        maxBuffer: 1024 * 1024,
      },
    );
    const result = JSON.parse(child.stdout || '{}') as { outcome?: string; ms?: number; maxRssMb?: number };
    rows.push({
      document: title,
      'size KB': round(bytes.length / 1024, 0),
      outcome: result.outcome ?? `child failed: ${child.stderr.slice(0, 200)}`,
      s: round((result.ms ?? NaN) / 1000, 2),
      'peak RSS MB': round(result.maxRssMb ?? NaN, 0),
    });
  }
  printTable(
    "Hostile documents through the worker bundle's sandbox (1228 MB budget, as the standard worker): outcome, time, peak RSS of the whole process",
    rows,
  );
  return rows;
};
