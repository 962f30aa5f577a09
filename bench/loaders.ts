import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_TARGET, ESM_REQUIRE_BANNER, LAZY_MODULES } from '../lib/bundling.js';
import { CORPUS, ROOT, ensurePdftotext, median, printTable, round } from './support.js';

const FILES = [
  { file: 'pdf/DA-619p.pdf', raw: 'pdf', unit: 'pages' },
  { file: 'docx/handbook-872p.docx', raw: 'docx', unit: 'MB' },
  { file: 'html/example-10k.html', raw: 'html', unit: 'MB' },
  { file: 'text/book-war-and-peace-1225p.txt', raw: 'text', unit: 'MB' },
] as const;

interface ChildResult {
  times: number[];
  units: number;
  maxRssMb: number;
}

const RUNS = 4;

/** The processing core bundled the way the worker Lambda is. */
export const bundleCore = async (): Promise<string> => {
  const outfile = join(ROOT, 'bench/results/core.mjs');
  await build({
    entryPoints: [join(ROOT, 'bench/core-entry.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: BUNDLE_TARGET,
    minify: true,
    outfile,
    banner: { js: ESM_REQUIRE_BANNER },
    external: LAZY_MODULES,
    logLevel: 'error',
  });
  return outfile;
};

const measure = (mode: string, file: string, bundle = ''): ChildResult => {
  const child = spawnSync(process.execPath, [join(ROOT, 'bench/child.mjs'), mode, file, String(RUNS), bundle], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`bench child ${mode} ${file} failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as ChildResult;
};

const pdftotextSeconds = (file: string): number | undefined => {
  const command = ensurePdftotext();
  if (!command) return undefined;
  const out = join(tmpdir(), 'bench-pdftotext.txt');
  const times: number[] = [];
  for (let index = 0; index < RUNS; index++) {
    const started = performance.now();
    execFileSync(command, [file, out]);
    times.push(performance.now() - started);
  }
  return median(times) / 1000;
};

export const benchLoaders = async () => {
  const bundle = await bundleCore();
  const rows = [];
  let pdfRatio: Record<string, number> | undefined;
  for (const { file, raw, unit } of FILES) {
    const path = resolve(CORPUS, file);
    const megabytes = statSync(path).size / 1024 / 1024;
    const service = measure('sandboxed', path, bundle);
    const unsandboxed = measure('direct', path, bundle);
    const library = measure(raw, path);
    const amount = (result: ChildResult) => (unit === 'pages' ? result.units : megabytes);
    const rate = (seconds: number, result: ChildResult) => round(amount(result) / seconds, 1);
    const cold = (service.times[0] ?? NaN) / 1000;
    const warm = median(service.times.slice(1)) / 1000;
    const directCold = (unsandboxed.times[0] ?? NaN) / 1000;
    const directWarm = median(unsandboxed.times.slice(1)) / 1000;
    const rawSeconds = median(library.times) / 1000;
    const row: Record<string, string | number> = {
      file,
      unit: `${unit}/s`,
      'service cold s': round(cold),
      'service warm s': round(warm),
      'service cold rate': rate(cold, service),
      'service warm rate': rate(warm, service),
      'service peak RSS MB': round(service.maxRssMb, 0),
      'no sandbox cold s': round(directCold),
      'no sandbox warm s': round(directWarm),
      'sandbox cost warm %': round((warm / directWarm - 1) * 100, 0),
      'raw library s': round(rawSeconds),
      'raw rate': rate(rawSeconds, library),
      'raw peak RSS MB': round(library.maxRssMb, 0),
    };
    if (raw === 'pdf') {
      const reference = pdftotextSeconds(path);
      if (reference !== undefined) {
        row['pdftotext s'] = round(reference);
        row['pdftotext rate'] = round(service.units / reference, 1);
        pdfRatio = {
          cold: round(reference / cold),
          warm: round(reference / warm),
          rawLibrary: round(reference / rawSeconds),
          sandboxCostWarmPercent: round((warm / directWarm - 1) * 100, 1),
          sandboxCostColdPercent: round((cold / directCold - 1) * 100, 1),
        };
      }
    }
    rows.push(row);
  }
  printTable(
    `Loaders: the worker bundle's sandbox (${RUNS} runs in one process: 1 first-after-init + median of the rest), the same without the sandbox, the raw library`,
    rows,
  );
  if (pdfRatio) {
    console.log(
      `PDF pages/s as a fraction of pdftotext: service warm ${pdfRatio.warm}×, cold ${pdfRatio.cold}×, raw PDFium (one thread) ${pdfRatio.rawLibrary}×; the sandbox costs ${pdfRatio.sandboxCostWarmPercent} % warm, ${pdfRatio.sandboxCostColdPercent} % cold`,
    );
  }
  return { runs: RUNS, rows, pdfVsPdftotext: pdfRatio };
};
