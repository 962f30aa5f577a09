import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { OPTION_DEFAULTS, type ProcessingOptions } from '../lambdas/documents/options.js';
import { processDocument } from '../lambdas/documents/process-document.js';
import { median, printTable, ROOT, round } from './support.js';

/**
 * `npm run bench -- quality`: the service's reading scored against a public
 * reference set (`../shared/benchmarks/docling/`, each document beside the
 * Markdown docling's maintained backends make of it; its SOURCES.md says how
 * it was made). A measuring stick, never a training set.
 *
 * Per document, text output: word recall and precision (words as runs of
 * letters and digits, each CJK character a word; a multiset), reading order
 * (the shared words of the output mapped, occurrence by occurrence, to their
 * places in the truth: the longest increasing run of places over the words
 * matched, 1 = the truth's order), the share of garbage characters (control,
 * private use, replacement) and the time. Markdown output: strict table-row
 * recall (a truth row found as an output row with the same cells, in order),
 * heading recall and precision (by text). `pdftotext` (PDF) and pandoc
 * (DOCX, HTML, ODT, EPUB) read the same files in the same run.
 */
const SET = resolve(process.env.DOCPROC_BENCHMARKS ?? resolve(ROOT, '../shared/benchmarks/docling'));
const FOLDERS = (process.env.QUALITY_FOLDERS ?? 'pdf,docx,pptx,xlsx,html,epub,odt,ocr').split(',');
const PANDOC_READERS: Record<string, string> = { docx: 'docx', html: 'html', odt: 'odt', epub: 'epub' };

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;

/** Words of a text: runs of letters, marks and digits, lower-cased; each CJK character a word. */
export const wordsOf = (text: string): string[] => {
  const words: string[] = [];
  for (const match of text.toLowerCase().matchAll(/[\p{L}\p{M}\p{N}]+/gu)) {
    const word = match[0];
    if (CJK.test(word)) {
      let run = '';
      for (const char of word) {
        if (CJK.test(char)) {
          if (run) words.push(run);
          run = '';
          words.push(char);
        } else run += char;
      }
      if (run) words.push(run);
    } else words.push(word);
  }
  return words;
};

/** Markdown of the truth as plain text: no markup, no image marks, link targets dropped. */
export const plainOfMarkdown = (markdown: string): string =>
  markdown
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/!\[[^\]]*\]\([^)]*\)/g, ' ')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/^\s*\|?\s*:?-{3,}.*$/gm, ' ')
    .replace(/[|#*_`>]/g, ' ');

const count = (words: readonly string[]): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
};

/** Longest strictly increasing subsequence's length (patience sorting). */
const longestIncreasing = (values: readonly number[]): number => {
  const tails: number[] = [];
  for (const value of values) {
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((tails[middle] as number) < value) low = middle + 1;
      else high = middle;
    }
    tails[low] = value;
  }
  return tails.length;
};

export interface TextScore {
  recall: number;
  precision: number;
  order: number;
}

export const scoreText = (truth: readonly string[], output: readonly string[]): TextScore => {
  const truthCounts = count(truth);
  const outputCounts = count(output);
  let shared = 0;
  for (const [word, n] of outputCounts) shared += Math.min(n, truthCounts.get(word) ?? 0);
  // The k-th occurrence of a word in the output stands for its k-th in the truth.
  const places = new Map<string, number[]>();
  truth.forEach((word, index) => {
    const list = places.get(word);
    if (list) list.push(index);
    else places.set(word, [index]);
  });
  const seen = new Map<string, number>();
  const mapped: number[] = [];
  for (const word of output) {
    const k = seen.get(word) ?? 0;
    seen.set(word, k + 1);
    const place = places.get(word)?.[k];
    if (place !== undefined) mapped.push(place);
  }
  return {
    recall: truth.length ? shared / truth.length : 1,
    precision: output.length ? shared / output.length : truth.length ? 0 : 1,
    order: mapped.length ? longestIncreasing(mapped) / mapped.length : 0,
  };
};

/** Link targets and image marks are no text of a cell or heading (the truth and ours may link or not). */
const withoutTargets = (text: string): string =>
  text.replace(/!\[[^\]]*\]\([^)]*\)/g, ' ').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');

const cellsOf = (line: string): string[] =>
  withoutTargets(line)
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((cell) => wordsOf(cell).join(' '));

/** Table rows of a Markdown text (separator rows left out), each as its normalised cells. */
export const tableRowsOf = (markdown: string): string[][] =>
  markdown
    .split('\n')
    .filter((line) => /^\s*\|.*\|\s*$/.test(line) && !/^\s*\|?[\s:|-]+\|?\s*$/.test(line))
    .map(cellsOf)
    .filter((cells) => cells.some(Boolean));

export const headingsOf = (markdown: string): string[] =>
  markdown
    .split('\n')
    .filter((line) => /^#{1,6}\s/.test(line))
    .map((line) => wordsOf(withoutTargets(line)).join(' '))
    .filter(Boolean);

/** Share of `truth` found in `output` (each output item used once); undefined when the truth has none. */
const matchedShare = (truth: readonly string[], output: readonly string[]): number | undefined => {
  if (!truth.length) return undefined;
  const available = count(output);
  let found = 0;
  for (const item of truth) {
    const n = available.get(item) ?? 0;
    if (n > 0) {
      found++;
      available.set(item, n - 1);
    }
  }
  return found / truth.length;
};

const GARBAGE = /[\p{Cc}\p{Co}\uFFFD]/gu;
const garbageOf = (text: string): number => {
  const visible = text.replace(/[\n\r\t\f]/g, '');
  return visible.length ? (visible.match(GARBAGE)?.length ?? 0) / visible.length : 0;
};

const runService = async (bytes: Buffer, filename: string, options: Partial<ProcessingOptions>) => {
  const started = performance.now();
  try {
    const result = await processDocument({ bytes, filename }, { ...OPTION_DEFAULTS, ...options });
    return {
      text: result.documents.map((document) => document.page_content).join('\n\n'),
      seconds: (performance.now() - started) / 1000,
      quality: result.quality,
    };
  } catch (error) {
    return { text: '', seconds: (performance.now() - started) / 1000, error: (error as { code?: string }).code };
  }
};

const runTool = (command: string, args: string[]) => {
  const started = performance.now();
  const run = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { text: run.status === 0 ? run.stdout : undefined, seconds: (performance.now() - started) / 1000 };
};

const available = (command: string, flag: string): boolean => spawnSync(command, [flag]).error === undefined;

interface DocumentScore {
  file: string;
  recall: number;
  precision: number;
  order: number;
  garbage: number;
  seconds: number;
  /** The result's own grade of its pages (quality/grade.ts), for paged formats. */
  grade?: string | undefined;
  tableRows?: number | undefined;
  headingRecall?: number | undefined;
  headingPrecision?: number | undefined;
  baseline?: (TextScore & { garbage: number; seconds: number; tableRows?: number | undefined }) | undefined;
}

const mean = (values: number[]): number => values.reduce((sum, value) => sum + value, 0) / (values.length || 1);
const defined = (values: Array<number | undefined>): number[] => values.filter((value) => value !== undefined);

export const benchQuality = async (options: Partial<ProcessingOptions> = {}) => {
  if (!existsSync(SET)) {
    console.log(`\nquality: the reference set is not at ${SET}`);
    return {};
  }
  const hasPdftotext = available('pdftotext', '-v');
  const hasPandoc = available('pandoc', '--version');
  const report: Record<string, unknown> = {};
  const summary: Array<Record<string, string | number>> = [];
  for (const folder of FOLDERS) {
    const dir = join(SET, folder);
    if (!existsSync(dir)) continue;
    const files = readdirSync(dir).filter((name) => !name.endsWith('.md') && existsSync(join(dir, `${name}.md`)));
    const scores: DocumentScore[] = [];
    for (const name of files.sort()) {
      const path = join(dir, name);
      const truth = readFileSync(`${path}.md`, 'utf8');
      const truthWords = wordsOf(plainOfMarkdown(truth));
      const bytes = readFileSync(path);
      const text = await runService(bytes, name, options);
      const markdown = await runService(bytes, name, { ...options, output_format: 'markdown' });
      const score = scoreText(truthWords, wordsOf(text.text));
      const truthRows = tableRowsOf(truth).map((cells) => cells.join('|'));
      const truthHeadings = headingsOf(truth);
      const outputHeadings = headingsOf(markdown.text);
      let baseline: DocumentScore['baseline'];
      const ext = extname(name).slice(1);
      const tool =
        (folder === 'pdf' || folder === 'ocr') && hasPdftotext
          ? runTool('pdftotext', ['-enc', 'UTF-8', path, '-'])
          : PANDOC_READERS[ext] && hasPandoc
            ? runTool('pandoc', ['-f', PANDOC_READERS[ext], '-t', 'plain', '--wrap=none', path])
            : undefined;
      if (tool?.text !== undefined) {
        const toolMarkdown =
          PANDOC_READERS[ext] && hasPandoc
            ? runTool('pandoc', ['-f', PANDOC_READERS[ext], '-t', 'gfm', path])
            : undefined;
        baseline = {
          ...scoreText(truthWords, wordsOf(tool.text)),
          garbage: garbageOf(tool.text),
          seconds: tool.seconds,
          tableRows: toolMarkdown?.text
            ? matchedShare(
                truthRows,
                tableRowsOf(toolMarkdown.text).map((cells) => cells.join('|')),
              )
            : undefined,
        };
      }
      scores.push({
        file: name,
        ...score,
        garbage: garbageOf(text.text),
        seconds: text.seconds,
        grade: text.quality
          ? `${text.quality.grade} ${text.quality.pages.good}/${text.quality.pages.fair}/${text.quality.pages.poor}`
          : undefined,
        tableRows: matchedShare(
          truthRows,
          tableRowsOf(markdown.text).map((cells) => cells.join('|')),
        ),
        headingRecall: matchedShare(truthHeadings, outputHeadings),
        headingPrecision: outputHeadings.length ? matchedShare(outputHeadings, truthHeadings) : undefined,
        baseline,
      });
    }
    report[folder] = scores;
    printTable(
      `quality, ${folder}/ (${scores.length} documents; base = ${folder === 'pdf' || folder === 'ocr' ? 'pdftotext' : 'pandoc'})`,
      scores.map((score) => ({
        file: score.file.slice(0, 44),
        recall: round(score.recall),
        precision: round(score.precision),
        order: round(score.order),
        'table rows': score.tableRows === undefined ? '' : round(score.tableRows),
        headings: score.headingRecall === undefined ? '' : round(score.headingRecall),
        'heading prec.': score.headingPrecision === undefined ? '' : round(score.headingPrecision),
        garbage: round(score.garbage, 4),
        'grade (good/fair/poor pages)': score.grade ?? '',
        s: round(score.seconds, 3),
        'base recall': score.baseline ? round(score.baseline.recall) : '',
        'base order': score.baseline ? round(score.baseline.order) : '',
        'base rows': score.baseline?.tableRows === undefined ? '' : round(score.baseline.tableRows),
        'base garbage': score.baseline ? round(score.baseline.garbage, 4) : '',
        'base s': score.baseline ? round(score.baseline.seconds, 3) : '',
      })),
    );
    const rows = defined(scores.map((score) => score.tableRows));
    const baseScores = scores.map((score) => score.baseline).filter((score) => score !== undefined);
    summary.push({
      format: folder,
      docs: scores.length,
      'recall (median)': round(median(scores.map((score) => score.recall))),
      'order (median)': round(median(scores.map((score) => score.order))),
      'table rows (median / mean)': rows.length ? `${round(median(rows))} / ${round(mean(rows))} (${rows.length})` : '',
      'heading recall': round(mean(defined(scores.map((score) => score.headingRecall)))),
      'heading precision': round(mean(defined(scores.map((score) => score.headingPrecision)))),
      'garbage (max)': round(Math.max(...scores.map((score) => score.garbage)), 4),
      's (total)': round(
        scores.reduce((sum, score) => sum + score.seconds, 0),
        2,
      ),
      'base recall / order (median)': baseScores.length
        ? `${round(median(baseScores.map((score) => score.recall)))} / ${round(median(baseScores.map((score) => score.order)))}`
        : '',
      'base garbage (max)': baseScores.length ? round(Math.max(...baseScores.map((score) => score.garbage)), 4) : '',
    });
  }
  printTable('quality summary (text output; tables and headings from Markdown output)', summary);
  return { ...report, summary };
};
