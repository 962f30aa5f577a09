import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { OPTION_DEFAULTS } from '../lambdas/documents/options.js';
import { processDocument } from '../lambdas/documents/process-document.js';
import { CORPUS, median, printTable, round } from './support.js';

/**
 * `npm run bench -- ocr`: OCR against the tesseract CLI on scans made from
 * the corpus: pages rendered at 200 dpi with `pdftoppm` (PNG), the same
 * page turned 90° and a noisy, skewed JPEG of it, and one page wrapped back
 * into an image-only PDF with `img2pdf`. The truth is the original page's
 * text layer (`pdftotext`); the character error rate is the edit distance
 * over the text with runs of white space folded, divided by the truth's
 * length. The service reads each image through `processDocument` (warm:
 * the engine and model loaded by a first page, reported apart); the CLI
 * runs as a user runs it, once per image (`tesseract IMAGE - -l eng`).
 */
const PAGES: Array<[string, number]> = [
  ['pdf/multi-column-2p.pdf', 1],
  ['pdf/layout-parser-paper-fast.pdf', 1],
  ['pdf/fake-memo.pdf', 1],
  ['pdf/DA-619p.pdf', 12],
];

const folded = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** Levenshtein distance, two rows. */
const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
};

export const characterErrorRate = (truth: string, read: string): number =>
  editDistance(folded(truth), folded(read)) / Math.max(1, folded(truth).length);

const has = (command: string, flag: string) => spawnSync(command, [flag]).error === undefined;

const service = async (file: string) => {
  const started = performance.now();
  const result = await processDocument(
    { bytes: readFileSync(file), filename: file.split('/').pop() ?? file },
    OPTION_DEFAULTS,
  );
  return {
    text: result.documents.map((document) => document.page_content).join('\n'),
    seconds: (performance.now() - started) / 1000,
  };
};

const cli = (file: string) => {
  const started = performance.now();
  const text = execFileSync('tesseract', [file, '-', '-l', 'eng'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return { text, seconds: (performance.now() - started) / 1000 };
};

export const benchOcr = async () => {
  if (
    !['pdftoppm', 'pdftotext', 'tesseract', 'convert', 'img2pdf'].every(
      (command) => has(command, '-v') || has(command, '--version'),
    )
  ) {
    console.log('\nocr: needs pdftoppm, pdftotext, tesseract, ImageMagick (convert) and img2pdf (apt)');
    return {};
  }
  const dir = join(tmpdir(), 'docproc-bench-ocr');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The engine's first page: loading the WebAssembly and the English model.
  const warmup = join(dir, 'warmup');
  execFileSync('pdftoppm', [
    '-r',
    '100',
    '-f',
    '1',
    '-l',
    '1',
    '-singlefile',
    '-png',
    resolve(CORPUS, 'pdf/fake-memo.pdf'),
    warmup,
  ]);
  const init = await service(`${warmup}.png`);
  const rows = [];
  const ratios: number[] = [];
  const cerGaps: number[] = [];
  for (const [file, page] of PAGES) {
    const source = resolve(CORPUS, file);
    const truth = execFileSync('pdftotext', ['-f', String(page), '-l', String(page), source, '-'], {
      encoding: 'utf8',
    });
    const base = join(dir, `${file.replace(/\W/g, '_')}-${page}`);
    execFileSync('pdftoppm', [
      '-r',
      '200',
      '-f',
      String(page),
      '-l',
      String(page),
      '-singlefile',
      '-png',
      source,
      base,
    ]);
    const png = `${base}.png`;
    const turned = `${base}-90.png`;
    const noisy = `${base}-noisy.jpg`;
    const wrapped = `${base}-scan.pdf`;
    execFileSync('convert', [png, '-rotate', '90', turned]);
    execFileSync('convert', [
      png,
      '-background',
      'white',
      '-rotate',
      '1.5',
      '-attenuate',
      '0.4',
      '+noise',
      'Gaussian',
      '-quality',
      '60',
      noisy,
    ]);
    execFileSync('img2pdf', [png, '-o', wrapped]);
    for (const [variant, image] of [
      ['png', png],
      ['turned 90°', turned],
      ['noisy, skewed jpeg', noisy],
      ['img2pdf scan', wrapped],
    ] as const) {
      const ours = await service(image);
      const theirs = variant === 'img2pdf scan' ? undefined : cli(image);
      const ourCer = characterErrorRate(truth, ours.text);
      const row: Record<string, string | number> = {
        page: `${file.replace('pdf/', '')} p${page}`,
        variant,
        'service s': round(ours.seconds, 2),
        'service CER': round(ourCer, 3),
      };
      if (theirs) {
        const theirCer = characterErrorRate(truth, theirs.text);
        row['tesseract CLI s'] = round(theirs.seconds, 2);
        row['CLI CER'] = round(theirCer, 3);
        row['time ratio'] = round(ours.seconds / theirs.seconds, 2);
        ratios.push(ours.seconds / theirs.seconds);
        cerGaps.push(ourCer - theirCer);
      }
      rows.push(row);
    }
  }
  printTable(
    `OCR: the service (warm; its first page, loading engine and model, took ${round(init.seconds, 2)} s) vs the tesseract CLI, 200-dpi scans of corpus pages`,
    rows,
  );
  const summary = {
    firstPageSeconds: round(init.seconds, 2),
    medianTimeRatio: round(median(ratios), 2),
    maxTimeRatio: round(Math.max(...ratios), 2),
    medianCerGap: round(median(cerGaps), 3),
    maxCerGap: round(Math.max(...cerGaps), 3),
  };
  console.log(
    `OCR per page: median ${summary.medianTimeRatio}× the CLI's time (max ${summary.maxTimeRatio}×); character error rate minus the CLI's: median ${summary.medianCerGap}, max ${summary.maxCerGap}`,
  );
  rmSync(dir, { recursive: true, force: true });
  return { rows, summary };
};
