import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ExcelJS from 'exceljs';
import { bundleCore } from './loaders.js';
import { CORPUS, ROOT, median, printTable, round } from './support.js';

/**
 * The formats of issue 15, each through the worker's sandbox as deployed
 * (bundled core, fresh process per format so that peak RSS is its own):
 * a book made into PPTX, ODT and EPUB by pandoc, a 100,000-cell workbook
 * (exceljs), and a mail carrying the corpus's DOCX handbook and a PDF.
 */
const RUNS = 4;

const bookMarkdown = (): string => {
  const text = readFileSync(resolve(CORPUS, 'text/book-war-and-peace-1225p.txt'), 'utf8').slice(0, 600_000);
  const paragraphs = text
    .split(/\n\s*\n/)
    .map((paragraph) => paragraph.replace(/\s+/g, ' ').trim())
    .filter(Boolean);
  const out: string[] = [];
  paragraphs.forEach((paragraph, index) => {
    if (index % 40 === 0) out.push(`# Chapter ${index / 40 + 1}`);
    if (index % 8 === 0) out.push(`## Part ${index / 8 + 1}`);
    out.push(paragraph);
  });
  return out.join('\n\n');
};

const workbook = async (file: string): Promise<void> => {
  const book = new ExcelJS.Workbook();
  for (let sheetIndex = 0; sheetIndex < 2; sheetIndex++) {
    const sheet = book.addWorksheet(`Sheet ${sheetIndex + 1}`);
    for (let row = 0; row < 5000; row++) {
      sheet.addRow([
        `item ${row}`,
        row * 1.5,
        new Date(Date.UTC(2024, 0, 1 + (row % 365))),
        row % 2 === 0,
        `note for row ${row} of sheet ${sheetIndex + 1}`,
        row * 3,
        row / 7,
        `code-${row % 97}`,
        row % 13,
        'done',
      ]);
    }
  }
  await book.xlsx.writeFile(file);
};

const mail = (file: string): void => {
  const attachment = (name: string, type: string, bytes: Buffer) =>
    [
      `--b1`,
      `Content-Type: ${type}; name="${name}"`,
      `Content-Disposition: attachment; filename="${name}"`,
      'Content-Transfer-Encoding: base64',
      '',
      bytes.toString('base64').replace(/.{76}/g, '$&\r\n'),
    ].join('\r\n');
  const message = [
    'From: Archive <archive@example.com>',
    'To: Team <team@example.com>',
    'Subject: Handbook and report',
    'Date: Fri, 27 Nov 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'The handbook and the report are attached.',
    attachment(
      'handbook.docx',
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      readFileSync(resolve(CORPUS, 'docx/handbook-872p.docx')),
    ),
    attachment('report.pdf', 'application/pdf', readFileSync(resolve(CORPUS, 'pdf/DA-619p.pdf'))),
    '--b1--',
    '',
  ].join('\r\n');
  writeFileSync(file, message);
};

interface ChildResult {
  times: number[];
  units: number;
  maxRssMb: number;
}

const measure = (file: string, bundle: string): ChildResult => {
  const child = spawnSync(process.execPath, [join(ROOT, 'bench/child.mjs'), 'sandboxed', file, String(RUNS), bundle], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`bench child ${file} failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as ChildResult;
};

export const benchFormats = async () => {
  const bundle = await bundleCore();
  const dir = mkdtempSync(join(tmpdir(), 'bench-formats-'));
  try {
    const source = join(dir, 'book.md');
    writeFileSync(source, bookMarkdown());
    const files: Array<{ name: string; file: string; what: string }> = [];
    for (const [format, what] of [
      ['pptx', 'slides from 600 KB of War and Peace'],
      ['odt', '600 KB of War and Peace'],
      ['epub', '600 KB of War and Peace, chapters'],
    ] as const) {
      const file = join(dir, `book.${format}`);
      execFileSync('pandoc', [source, '-o', file, ...(format === 'epub' ? ['--metadata', 'title=Bench'] : [])]);
      files.push({ name: format, file, what });
    }
    const xlsx = join(dir, 'cells.xlsx');
    await workbook(xlsx);
    files.push({ name: 'xlsx', file: xlsx, what: '2 sheets × 5,000 rows × 10 cells' });
    const eml = join(dir, 'mail.eml');
    mail(eml);
    files.push({ name: 'eml', file: eml, what: 'mail with the DOCX handbook and the 619-page PDF attached' });

    const rows = files.map(({ name, file, what }) => {
      const megabytes = statSync(file).size / 1024 / 1024;
      const result = measure(file, bundle);
      const warm = median(result.times.slice(1)) / 1000;
      return {
        format: name,
        input: what,
        MB: round(megabytes, 1),
        'first s': round((result.times[0] ?? NaN) / 1000),
        'warm s': round(warm),
        'warm MB/s': round(megabytes / warm, 1),
        'peak RSS MB': round(result.maxRssMb, 0),
      };
    });
    printTable('Formats (worker sandbox, bundled core): time, MB/s and peak RSS per format', rows);
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
