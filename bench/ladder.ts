import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { brokenMapPdf, pdfWithContents } from '../fuzz/hostile.js';
import { renderedPage, scannedPdf } from '../fuzz/scans.js';
import { OPTION_DEFAULTS, type ProcessingOptions } from '../lambdas/documents/options.js';
import { processDocument } from '../lambdas/documents/process-document.js';
import type { PageQuality } from '../lambdas/documents/quality/grade.js';
import { characterErrorRate } from './ocr.js';
import { CORPUS, median, printTable, round } from './support.js';

/**
 * `npm run bench -- ladder`: the page report and the reading ladder
 * (docs/reading.md, "Page quality"). What the default `quality=auto` costs
 * on clean text (DA-619p, text output, against `fast`, runs alternated,
 * medians of 5), and what it wins on pages read poorly: fixtures of our own
 * making (a text layer partly mapped to private-use codes by a broken
 * ToUnicode map; 3-point type scanned at 400 dpi), each read under `fast`,
 * `auto` and `best`, graded, and scored by character error rate against
 * the text they were made from.
 */
const RUNS = 5;

const run = async (bytes: Uint8Array, filename: string, options: Partial<ProcessingOptions>) => {
  const started = performance.now();
  const result = await processDocument({ bytes: new Uint8Array(bytes), filename }, { ...OPTION_DEFAULTS, ...options });
  return { result, seconds: (performance.now() - started) / 1000 };
};

export const benchLadder = async () => {
  const big = new Uint8Array(readFileSync(resolve(CORPUS, 'pdf/DA-619p.pdf')));
  await run(big, 'DA-619p.pdf', { quality: 'fast' });
  const times: Record<'fast' | 'auto', number[]> = { fast: [], auto: [] };
  let grades = '';
  for (let round = 0; round < RUNS; round++) {
    for (const quality of ['fast', 'auto'] as const) {
      const { result, seconds } = await run(big, 'DA-619p.pdf', { quality });
      times[quality].push(seconds);
      if (quality === 'auto') grades = JSON.stringify(result.quality?.pages);
    }
  }
  const clean = {
    document: 'DA-619p.pdf (619 pages, text)',
    'fast (s)': round(median(times.fast), 3),
    'auto (s)': round(median(times.auto), 3),
    'auto / fast': round(median(times.auto) / median(times.fast), 3),
    'pages by grade (auto)': grades,
  };
  printTable('ladder: the default quality=auto on clean text, against fast', [clean]);

  const lines = ['Pilots board ships at the outer buoy', 'Tugs wait inside the breakwater'];
  const broken = 'Moorings are let by the year';
  const tiny = ['Pilots board ships at the outer buoy when the tide turns', 'Tugs wait inside the breakwater'];
  const tinyPage = Buffer.from(`BT /F1 3 Tf 72 720 Td 4.5 TL ${tiny.map((line) => `(${line}) Tj T*`).join(' ')} ET\n`);
  const fixtures: Array<[string, Buffer, string]> = [
    ['broken ToUnicode map (last line)', brokenMapPdf(lines, broken), [...lines, broken].join(' ')],
    [
      '3-point type, scanned at 400 dpi',
      scannedPdf([await renderedPage(pdfWithContents([tinyPage]), 0, 400)], { dpi: 400 }),
      tiny.join(' '),
    ],
  ];
  const rows: Array<Record<string, string | number>> = [];
  for (const [name, bytes, truth] of fixtures) {
    for (const quality of ['fast', 'auto', 'best'] as const) {
      const { result, seconds } = await run(bytes, 'fixture.pdf', { quality });
      const page = result.documents[0];
      const report = page?.metadata.quality as PageQuality | undefined;
      rows.push({
        fixture: name,
        quality,
        grade: report?.grade ?? '',
        rung: report?.rung ?? '',
        tried: report?.tried?.join(', ') ?? '',
        'character error rate': round(characterErrorRate(truth, page?.page_content ?? ''), 3),
        s: round(seconds, 2),
      });
    }
  }
  printTable('ladder: pages read poorly, under fast, auto and best (error rate against the source text)', rows);
  return { clean, fixtures: rows };
};
