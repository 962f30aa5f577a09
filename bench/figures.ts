import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isCaptionLine } from '../lambdas/documents/figures/captions.js';
import { OPTION_DEFAULTS } from '../lambdas/documents/options.js';
import { processDocument } from '../lambdas/documents/process-document.js';
import { CORPUS, median, printTable, ROOT, round } from './support.js';
import { wordsOf } from './quality.js';

/**
 * `npm run bench -- figures`: figures (option `figures=refs`) scored on the
 * public reference set (`../shared/benchmarks/docling/`, whose Markdown marks
 * each picture `<!-- image -->`): per document, the pictures the truth marks,
 * the references the Markdown output places (`](figure:`), recall (placed
 * ones up to the truth's count, over it) and false positives (placed past it);
 * captions: of the truth's labelled caption lines next to a picture
 * ("Figure 3: …"), the share some figure's caption matches. Then the cost on
 * DA-619p: the text output with figures=refs against without, same run.
 */
const SET = resolve(process.env.DOCPROC_BENCHMARKS ?? resolve(ROOT, '../shared/benchmarks/docling'));
const FOLDERS = ['pdf', 'docx', 'pptx', 'html', 'odt', 'epub', 'xlsx'];

/** The truth's pictures, and the labelled captions on the lines next to them. */
const truthOf = (markdown: string) => {
  const lines = markdown.split('\n').map((line) => line.trim());
  const captions: string[] = [];
  let pictures = 0;
  lines.forEach((line, index) => {
    if (line !== '<!-- image -->') return;
    pictures++;
    const near = [lines[index - 2], lines[index - 1], lines[index + 1], lines[index + 2]].filter(
      (candidate): candidate is string => Boolean(candidate) && isCaptionLine(candidate as string),
    );
    if (near[0]) captions.push(near[0]);
  });
  return { pictures, captions };
};

const sameWords = (a: string, b: string) => {
  const left = wordsOf(a).join(' ');
  const right = wordsOf(b).join(' ');
  return Boolean(left) && (left.startsWith(right) || right.startsWith(left));
};

export const benchFigures = async () => {
  if (!existsSync(SET)) {
    console.log(`\nfigures: the reference set is not at ${SET}`);
    return {};
  }
  const rows: Array<Record<string, string | number>> = [];
  const byFormat = new Map<
    string,
    { truth: number; found: number; extra: number; docs: number; captions: number; captioned: number }
  >();
  for (const folder of FOLDERS) {
    const dir = join(SET, folder);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)
      .filter((file) => !file.endsWith('.md'))
      .sort()) {
      if (!existsSync(join(dir, `${name}.md`))) continue;
      const truth = truthOf(readFileSync(join(dir, `${name}.md`), 'utf8'));
      const started = performance.now();
      let placed = 0;
      let captions: string[] = [];
      try {
        const result = await processDocument(
          { bytes: readFileSync(join(dir, name)), filename: name },
          { ...OPTION_DEFAULTS, output_format: 'markdown', figures: 'refs' },
        );
        placed = result.documents.reduce(
          (sum, document) => sum + (document.page_content.match(/\]\(figure:/g)?.length ?? 0),
          0,
        );
        captions = (result.figures ?? []).flatMap((figure) => (figure.caption ? [figure.caption] : []));
      } catch {
        // A document the reader refuses places nothing.
      }
      const seconds = (performance.now() - started) / 1000;
      const found = Math.min(placed, truth.pictures);
      const extra = Math.max(0, placed - truth.pictures);
      const captioned = truth.captions.filter((caption) => captions.some((mine) => sameWords(mine, caption))).length;
      const total = byFormat.get(folder) ?? { truth: 0, found: 0, extra: 0, docs: 0, captions: 0, captioned: 0 };
      byFormat.set(folder, {
        truth: total.truth + truth.pictures,
        found: total.found + found,
        extra: total.extra + extra,
        docs: total.docs + 1,
        captions: total.captions + truth.captions.length,
        captioned: total.captioned + captioned,
      });
      if (truth.pictures || placed) {
        rows.push({
          file: `${folder}/${name}`.slice(0, 48),
          truth: truth.pictures,
          placed,
          recall: truth.pictures ? round(found / truth.pictures) : '',
          'false pos.': extra,
          'captions (truth)': truth.captions.length,
          'captions found': captioned,
          s: round(seconds, 3),
        });
      }
    }
  }
  printTable('figures per document (figures=refs, Markdown; truth = <!-- image --> marks)', rows);
  const summary = [...byFormat].map(([format, total]) => ({
    format,
    docs: total.docs,
    'pictures (truth)': total.truth,
    recall: total.truth ? round(total.found / total.truth) : '',
    'false pos. per doc': round(total.extra / total.docs),
    'caption recall': total.captions ? `${round(total.captioned / total.captions)} (${total.captions})` : '',
  }));
  const all = [...byFormat.entries()]
    .filter(([format]) => ['pdf', 'docx', 'pptx', 'html'].includes(format))
    .map(([, total]) => total);
  const sum = (key: keyof (typeof all)[number]) => all.reduce((total, each) => total + each[key], 0);
  summary.push({
    format: 'PDF+DOCX+PPTX+HTML',
    docs: sum('docs'),
    'pictures (truth)': sum('truth'),
    recall: round(sum('found') / (sum('truth') || 1)),
    'false pos. per doc': round(sum('extra') / (sum('docs') || 1)),
    'caption recall': sum('captions') ? `${round(sum('captioned') / sum('captions'))} (${sum('captions')})` : '',
  });
  printTable('figures summary', summary);

  // The cost on a long PDF: text output with and without figures, alternated, the median of three each.
  const bytes = readFileSync(join(CORPUS, 'pdf/DA-619p.pdf'));
  const timed = async (figures: boolean) => {
    const started = performance.now();
    await processDocument(
      { bytes, filename: 'DA-619p.pdf' },
      { ...OPTION_DEFAULTS, ...(figures ? { figures: 'refs' as const } : {}) },
    );
    return (performance.now() - started) / 1000;
  };
  await timed(false);
  const plain: number[] = [];
  const withFigures: number[] = [];
  for (let round3 = 0; round3 < 3; round3++) {
    plain.push(await timed(false));
    withFigures.push(await timed(true));
  }
  const cost = [
    {
      document: 'DA-619p.pdf (text output)',
      'figures off s': round(median(plain), 3),
      'figures=refs s': round(median(withFigures), 3),
      ratio: round(median(withFigures) / median(plain)),
    },
  ];
  printTable('figures: cost on a long PDF (same run; target ≤ 1.5×)', cost);
  return { documents: rows, summary, cost };
};
