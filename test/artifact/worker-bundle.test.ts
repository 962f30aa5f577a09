import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pngOf, scannedPdf, scanOf } from '../../fuzz/scans.js';
import { corpusPath } from '../support/corpus.js';
import { ensureSynth } from '../support/synth.js';

let folder: string;

/** The deployed worker code: the asset `cdk synth` produced for the standard worker. */
const workerAsset = (cdkOut: string): string => {
  const template = JSON.parse(readFileSync(join(cdkOut, 'DocProc.template.json'), 'utf8')) as {
    Resources: Record<string, { Type: string; Properties: { Description?: string; Code?: { S3Key: string } } }>;
  };
  const worker = Object.values(template.Resources).find(
    (resource) =>
      resource.Type === 'AWS::Lambda::Function' && resource.Properties.Description?.startsWith('Processes documents'),
  );
  return join(cdkOut, `asset.${String(worker?.Properties.Code?.S3Key).replace(/\.zip$/, '')}`);
};

/** Runs the bundle in a fresh Node process, from a folder with no node_modules anywhere above it. */
const runBundle = (
  file: string,
  options = '{}',
  processing = '{ split: true, chunk_size: 1000, chunk_overlap: 200 }',
) => {
  const script = `
    const started = performance.now();
    const bundle = await import('./index.mjs');
    const initMs = performance.now() - started;
    const bytes = (await import('node:fs')).readFileSync(process.argv[1]);
    const sandbox = new bundle.SandboxPool({ memoryMb: 1024, keepWarm: 1 });
    const { json } = await sandbox.process({ bytes, filename: process.argv[1].split('/').pop() }, ${processing}, ${options});
    const result = JSON.parse(new TextDecoder().decode(json));
    await sandbox.close();
    console.log(JSON.stringify({ initMs, format: result.format, count: result.document_count, pages: result.stats.pages, first: result.documents[0]?.page_content.slice(0, 80), chunkIds: result.documents.filter((document) => document.metadata.chunk_id).length }));
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], {
    cwd: folder,
    env: { PATH: process.env.PATH ?? '', NODE_PATH: '' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
  if (run.status !== 0) throw new Error(`the bundle failed: ${run.stderr}`);
  const lines = run.stdout.trim().split('\n');
  const result = JSON.parse(lines.pop() ?? '{}') as {
    initMs: number;
    format: string;
    count: number;
    pages?: number;
    first: string;
    chunkIds: number;
  };
  // On Lambda every line of output is a log record: anything but JSON is noise in CloudWatch Logs.
  const notJson = [...lines, ...run.stderr.split('\n')].filter((line) => line.trim() && !line.startsWith('{'));
  return { ...result, notJson };
};

beforeAll(async () => {
  const asset = workerAsset(await ensureSynth(inject('runId')));
  folder = mkdtempSync(join(tmpdir(), 'docproc-worker-bundle-'));
  // The asset as Lambda unpacks it: the bundle, and the lazily loaded modules beside it.
  cpSync(asset, folder, { recursive: true });
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('the synthesized worker bundle, alone in an empty folder', () => {
  it('reads a large PDF in a sandbox thread, with its PDF threads: every thread re-enters the bundle', () => {
    const result = runBundle(corpusPath('pdf/DA-619p.pdf'), '{ limits: { pdfThreads: 2 } }');
    expect(result).toMatchObject({ format: 'pdf', pages: 619 });
    expect(result.count).toBeGreaterThan(619);
    // pdf.js printed a warning per thread at each cold start (no @napi-rs/canvas): nothing but JSON now.
    expect(result.notJson).toEqual([]);
  });

  it('reads a small PDF on the calling thread', () => {
    const result = runBundle(corpusPath('pdf/fake-memo.pdf'));
    expect(result).toMatchObject({ format: 'pdf', count: 1 });
    expect(result.first).toContain('May 5, 2023');
  });

  it('reads a DOCX', () => {
    const result = runBundle(corpusPath('docx/fake.docx'));
    expect(result).toMatchObject({ format: 'docx', count: 1, first: 'Lorem ipsum dolor sit amet.' });
  });

  it('reads an HTML page', () => {
    const result = runBundle(corpusPath('zh/zh-memo.html'));
    expect(result.format).toBe('html');
    expect(result.first).toContain('异步文档处理服务说明');
  });

  it.each(['cl100k_base', 'o200k_base'])(
    'splits by %s tokens: the ranks load from beside the bundle, which does not hold them',
    (tokenizer) => {
      expect(readFileSync(join(folder, 'index.mjs'), 'utf8')).not.toContain('"pat_str"');
      const result = runBundle(
        corpusPath('docx/handbook-872p.docx'),
        '{}',
        `{ split: true, chunk_size: 256, chunk_overlap: 32, chunk_size_unit: 'tokens', tokenizer: '${tokenizer}', output_format: 'markdown' }`,
      );
      expect(result.format).toBe('docx');
      expect(result.count).toBeGreaterThan(500);
      expect(result.chunkIds).toBe(result.count);
    },
  );

  it('reads a scanned page and a PNG by OCR: engine, models and PDF engine load from beside the bundle', async () => {
    // The engines are not in the bundle (their loaders' own code would be), only beside it.
    const bundle = readFileSync(join(folder, 'index.mjs'), 'utf8');
    expect(bundle.includes('var TesseractCore') || bundle.includes('PDFiumExt_Init=')).toBe(false);
    const lines = ['Invoice number 4471', 'Total due in thirty days'];
    const scan = join(folder, 'scan.pdf');
    const png = join(folder, 'page.png');
    writeFileSync(scan, scannedPdf([await scanOf(lines)]));
    writeFileSync(png, pngOf(await scanOf(lines)));
    for (const file of [scan, png]) {
      const result = runBundle(
        file,
        '{}',
        '{ split: false, chunk_size: 1000, chunk_overlap: 200, ocr_languages: "eng+deu" }',
      );
      expect(result.format).toBe(file.endsWith('.pdf') ? 'pdf' : 'image');
      expect(result.first).toContain('Invoice number 4471');
      expect(result.notJson).toEqual([]);
    }
  });
});
