import { readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { OPTION_DEFAULTS, type ProcessingOptions, type TokenizerName } from '../lambdas/documents/options.js';
import { processDocument } from '../lambdas/documents/process-document.js';
import { RecursiveCharacterSplitter } from '../lambdas/documents/splitter.js';
import { tokenCounter } from '../lambdas/documents/tokenizer.js';
import { CORPUS, median, printTable, round } from './support.js';

/** One large file per format: the cost of Markdown over text, read in the same process, turns interleaved. */
const FILES = [
  'pdf/DA-619p.pdf',
  'docx/handbook-872p.docx',
  'html/example-10k.html',
  'text/book-war-and-peace-1225p.txt',
];
const RUNS = 3;

const seconds = async (run: () => Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await run();
  return (performance.now() - started) / 1000;
};

const processFile = (file: string, options: Partial<ProcessingOptions>) => {
  const bytes = readFileSync(resolve(CORPUS, file));
  return () => processDocument({ bytes, filename: basename(file) }, { ...OPTION_DEFAULTS, ...options });
};

const benchMarkdown = async () => {
  const rows = [];
  for (const file of FILES) {
    const megabytes = statSync(resolve(CORPUS, file)).size / 1024 / 1024;
    const text: number[] = [];
    const markdown: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      text.push(await seconds(processFile(file, {})));
      markdown.push(await seconds(processFile(file, { output_format: 'markdown' })));
    }
    rows.push({
      file,
      MB: round(megabytes, 1),
      'text s': round(median(text)),
      'markdown s': round(median(markdown)),
      'markdown / text': round(median(markdown) / median(text)),
    });
  }
  printTable(`Markdown output vs text (same process, median of ${RUNS})`, rows);
  return rows;
};

const benchTokens = async () => {
  const text = readFileSync(resolve(CORPUS, 'text/book-war-and-peace-1225p.txt'), 'utf8');
  const megabytes = Buffer.byteLength(text) / 1024 / 1024;
  const rows = [];
  const chars = await seconds(async () =>
    new RecursiveCharacterSplitter({ chunkSize: 1000, chunkOverlap: 200 }).split(text),
  );
  for (const tokenizer of ['cl100k_base', 'o200k_base'] as TokenizerName[]) {
    const loadSeconds = await seconds(() => tokenCounter(tokenizer));
    const count = await tokenCounter(tokenizer);
    // The first count fills the pre-token cache; later ones find most words in it.
    const first = await seconds(async () => count(text));
    const again = await seconds(async () => count(text));
    const split = await seconds(async () =>
      new RecursiveCharacterSplitter({ chunkSize: 256, chunkOverlap: 32, measure: count }).split(text),
    );
    rows.push({
      tokenizer,
      'load ms': round(loadSeconds * 1000, 0),
      'count MB/s (first)': round(megabytes / first, 1),
      'count MB/s (again)': round(megabytes / again, 1),
      'split 256 tokens s': round(split),
      'split 1000 chars s': round(chars),
    });
  }
  printTable(`Token counting on war-and-peace (${round(megabytes, 1)} MB)`, rows);
  return rows;
};

/** Markdown conversion cost per format, and token counting throughput. */
export const benchStructure = async () => ({ markdown: await benchMarkdown(), tokens: await benchTokens() });
