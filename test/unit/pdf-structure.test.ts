import { readdirSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import type { AppError } from '../../lambdas/errors.js';
import type { ProcessingLimits } from '../../lambdas/documents/limits.js';
import type * as PdfPool from '../../lambdas/documents/loaders/pdf-pool.js';
import {
  joinLines,
  linesOfPage,
  listItemOf,
  renderMarkdown,
  type PdfLine,
  type TextRun,
} from '../../lambdas/documents/loaders/pdf-structure.js';
import { OPTION_DEFAULTS, type OutputFormat, type ProcessingOptions } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { pageSaying, pdfWithContents } from '../../fuzz/hostile.js';
import { corpusPath, readCorpus } from '../support/corpus.js';
import { failureOf } from '../support/failures.js';

/** Threads each PDF read leased, so a test can tell that its pages did cross threads. */
const leasedThreads = vi.hoisted(() => [] as number[]);
vi.mock('../../lambdas/documents/loaders/pdf-pool.js', async (importOriginal) => {
  const pool = await importOriginal<typeof PdfPool>();
  return {
    ...pool,
    leaseThreads: (...args: Parameters<typeof pool.leaseThreads>) => {
      const lease = pool.leaseThreads(...args);
      leasedThreads.push(lease.threads.length);
      return lease;
    },
  };
});

const MB = 1024 * 1024;

const options = (extra: Partial<ProcessingOptions> = {}): ProcessingOptions => ({ ...OPTION_DEFAULTS, ...extra });

const read = (file: string, extra: Partial<ProcessingOptions> = {}, limits: Partial<ProcessingLimits> = {}) =>
  processDocument({ bytes: readCorpus(file), filename: file.split('/').pop() ?? file }, options(extra), { limits });

const pagesOf = (result: { documents: { metadata: Record<string, unknown> }[] }) =>
  result.documents.map((doc) => doc.metadata.page);

/** A PDF whose pages say "page N", except that the given ones inflate past a 4 MB stream cap when read. */
const pdfWithBombsAt = (count: number, bombs: readonly number[]): Buffer =>
  pdfWithContents(
    Array.from({ length: count }, (_, index) =>
      bombs.includes(index + 1)
        ? Buffer.concat([pageSaying('bomb'), Buffer.alloc(96 * MB, ' ')])
        : pageSaying(`page ${index + 1}`),
    ),
  );

const FORMATS: OutputFormat[] = ['text', 'markdown'];

const range = (first: number, last: number): number[] =>
  Array.from({ length: last - first + 1 }, (_, index) => first + index);

describe('pages of a PDF', () => {
  it('reads pages 2-3 exactly as a full read has them', async () => {
    const file = 'pdf/failure-after-repair.pdf';
    const full = await read(file);
    const selected = await read(file, { pages: '2-3' });
    expect(pagesOf(selected)).toEqual([2, 3]);
    expect(selected.documents).toEqual(full.documents.filter((doc) => [2, 3].includes(doc.metadata.page as number)));
    expect(selected.stats.pages).toBe(full.stats.pages);
  });

  it.each(FORMATS)('never reads the pages left out, nor page 1 for the page count (%s)', async (format) => {
    // Reading page 1 or 4 would trip the engine's memory cap; the selection must not touch them.
    const bytes = pdfWithBombsAt(5, [1, 4]);
    const context = { limits: { maxPdfMemoryBytes: 48 * MB } };
    const selected = await processDocument(
      { bytes, filename: 'b.pdf' },
      options({ output_format: format, pages: '2-3,5' }),
      context,
    );
    expect(selected.documents.map((doc) => doc.page_content)).toEqual(['page 2', 'page 3', 'page 5']);
    const whole = await failureOf(
      processDocument({ bytes, filename: 'b.pdf' }, options({ output_format: format }), context),
    );
    expect(whole.code).toBe('DOCUMENT_TOO_LARGE');
  });

  it('leaves out pages past the end with one warning that names them', async () => {
    const result = await read('pdf/layout-parser-paper-fast.pdf', { pages: '2-5' });
    expect(pagesOf(result)).toEqual([2]);
    expect(result.stats.pages).toBe(2);
    expect(result.warnings).toEqual([
      { code: 'PAGES_OUT_OF_RANGE', message: 'The PDF has 2 pages; pages 3-5 do not exist.' },
    ]);
  });

  it('gives no documents when no selected page exists', async () => {
    const result = await read('pdf/layout-parser-paper-fast.pdf', { pages: '3' });
    expect(result.documents).toEqual([]);
    expect(result.warnings).toContainEqual({
      code: 'PAGES_OUT_OF_RANGE',
      message: 'The PDF has 2 pages; page 3 does not exist.',
    });
  });

  it('applies maxPages to the pages read, not to the pages in the file', async () => {
    const file = 'pdf/DA-619p.pdf';
    const limits = { maxPages: 10 };
    const few = await read(file, { pages: '1-3' }, limits);
    expect(pagesOf(few)).toEqual([1, 2, 3]);
    expect(few.stats.pages).toBe(619);
    expect((await failureOf(read(file, { pages: '1-11' }, limits))).code).toBe('DOCUMENT_TOO_LARGE');
    expect((await failureOf(read(file, {}, limits))).code).toBe('DOCUMENT_TOO_LARGE');
  });

  it.each(FORMATS)('reads a selection across PDF threads as on one thread (%s)', async (format) => {
    const extra = { output_format: format, pages: '5-40,100-130' };
    leasedThreads.length = 0;
    const threaded = await read('pdf/DA-619p.pdf', extra, { pdfThreads: 2, pdfParallelMinPages: 2 });
    const single = await read('pdf/DA-619p.pdf', extra, { pdfThreads: 1 });
    expect(leasedThreads).toEqual([2, 0]);
    expect(pagesOf(threaded)).toEqual([...range(5, 40), ...range(100, 130)]);
    expect(threaded.documents).toEqual(single.documents);
  });
});

describe('Markdown from a PDF', () => {
  it('makes headings of the title and sections, and paragraphs of the body', async () => {
    const result = await read('pdf/layout-parser-paper-fast.pdf', { output_format: 'markdown' });
    const [first = '', second = ''] = result.documents.map((doc) => doc.page_content);
    const headings = first.split('\n').filter((line) => line.startsWith('#'));
    expect(headings).toEqual([
      '# LayoutParser: A Unified Toolkit for Deep Learning Based Document Image Analysis',
      '## 1 Introduction',
    ]);
    // One line per paragraph: the abstract's lines are joined, its hyphenated words mended.
    expect(first).toMatch(
      /\n\nAbstract\. Recent advances in .+ the easy reuse of important innovations by .+ at https:\/\/layout-parser\.github\.io\.\n\n/,
    );
    expect(first).toContain('applications. The core LayoutParser library');
    // The indented paragraph starts a paragraph; the numbered components become a list.
    expect(second).toContain(
      '\n\nHowever, there are several practical difficulties for taking advantages of recent advances',
    );
    expect(second).toMatch(/\n1\. An off-the-shelf toolkit .+ \(Section 3\)\n2\. A rich repository/);
    expect(second).toContain(
      '\n4. A DL model hub and community platform for the easy sharing, distribution, and discussion',
    );
    for (const paragraph of second.split('\n\n')) expect(paragraph.split('\n').length).toBeLessThanOrEqual(4);
  });

  it('makes GFM tables of the Korean PDF tables, with multi-line cells joined and the notes box once', async () => {
    const [page] = (await read('pdf/korean-text-with-tables.pdf', { output_format: 'markdown' })).documents;
    const rows = (page?.page_content ?? '').split('\n').filter((line) => line.startsWith('| '));
    expect(rows).toContain('| 업종 | 적립 대상 |');
    expect(rows).toContain('| 온라인쇼핑몰 | 삼성카드 쇼핑, G마켓, 옥션, 11번가, 인터파크, 쿠팡, 티몬, 위메프 |');
    expect(rows).toContain('| 편의점 | CU, GS25, 세븐일레븐, 미니스톱 |');
    // Each table's ruled frame holds a notes box across both columns: its text stands once, in the first.
    const notes = rows.filter((row) => row.startsWith('| 전월 이용금액'));
    expect(notes).toHaveLength(2);
    for (const row of notes) expect(row.endsWith(' |  |')).toBe(true);
    expect(rows.filter((row) => row !== '| --- | --- |')).toHaveLength(10);
  });

  const corpusPdfs = readdirSync(corpusPath('pdf')).filter((name) => name.endsWith('.pdf'));

  it.each(corpusPdfs)('reads %s in Markdown wherever it reads it as text', async (name) => {
    const file = `pdf/${name}`;
    const text = await read(file).catch((error: unknown) => error as AppError);
    const markdown = await read(file, { output_format: 'markdown' }).catch((error: unknown) => error as AppError);
    if (text instanceof Error) {
      expect((markdown as AppError).code).toBe(text.code);
      return;
    }
    if (markdown instanceof Error) throw markdown;
    expect(pagesOf(markdown)).toEqual(pagesOf(text));
    for (const doc of markdown.documents) expect(doc.page_content.trim()).not.toBe('');
  });
});

/** A run of text at (x, y) in a font of `size`, about half an em per character wide. */
const run = (
  str: string,
  x: number,
  y: number,
  size = 10,
  face: Pick<TextRun, 'bold' | 'italic' | 'mono'> = {},
): TextRun => ({
  str,
  transform: [size, 0, 0, size, x, y],
  width: str.length * size * 0.5,
  ...face,
});

const line = (text: string, y: number, extra: Partial<PdfLine> = {}): PdfLine => ({
  text,
  x: 72,
  y,
  size: 10,
  ...extra,
});

/** Body lines in 10 points, 12 apart, going down from `top`. */
const body = (top: number, ...texts: string[]): PdfLine[] => texts.map((text, index) => line(text, top - index * 12));

const LONG_BODY = 'The body text of the document, long enough to set the usual font size and spacing.';

describe('linesOfPage', () => {
  it('keeps superscripts in their line, spaces words by their gaps, and splits cells at wide gaps', () => {
    const lines = linesOfPage([
      run('Shen', 72, 700),
      run('1', 92, 704, 7),
      run('[', 99, 700),
      { ...run(' ', 104, 700), width: 0 }, // pdf.js makes space runs without width: not a word gap
      run('11', 104, 700),
      run('Name', 72, 688),
      run('Value', 180, 688),
    ]);
    expect(lines).toEqual([
      { text: 'Shen1 [11', x: 72, y: 700, size: 10 },
      {
        text: 'Name Value',
        x: 72,
        y: 688,
        size: 10,
        cells: [
          { x: 72, end: 92, text: 'Name' },
          { x: 180, end: 205, text: 'Value' },
        ],
      },
    ]);
  });

  it('keeps a right-to-left line whole: runs drawn leftwards in their logical order, a left-to-right word inside', () => {
    // Arabic letters drawn one by one from right to left, then a Latin word, as a PDF writes a mixed line.
    const lines = linesOfPage([
      run('ت', 518, 700),
      run('ح', 513, 700),
      run('س', 508, 700),
      run('Python', 475, 700),
      run('ب', 300, 688),
    ]);
    expect(lines.map(({ text }) => text)).toEqual(['تحس Python', 'ب']);
  });

  it('marks bold lines and text running across the page', () => {
    const upward: TextRun = { str: 'arXiv:2103.15348', transform: [0, 20, -20, 0, 32, 232], width: 160 };
    const lines = linesOfPage([
      run('Results', 72, 700, 10, { bold: true }),
      run('The body of the page', 72, 688),
      upward,
    ]);
    expect(lines.map(({ text, bold, sideways }) => ({ text, bold, sideways }))).toEqual([
      { text: 'Results', bold: true, sideways: undefined },
      { text: 'The body of the page', bold: undefined, sideways: undefined },
      { text: 'arXiv:2103.15348', bold: undefined, sideways: true },
    ]);
  });
});

describe('renderMarkdown', () => {
  it('maps distinct larger sizes to heading levels, largest first', () => {
    const [page] = renderMarkdown([
      [
        line('Title', 760, { size: 20 }),
        line('Chapter', 720, { size: 16 }),
        line('Section', 690, { size: 13 }),
        ...body(670, LONG_BODY, LONG_BODY),
        line('Another chapter', 600, { size: 16.2 }),
        ...body(580, LONG_BODY),
      ],
    ]);
    expect(page?.split('\n\n').filter((block) => block.startsWith('#'))).toEqual([
      '# Title',
      '## Chapter',
      '### Section',
      '## Another chapter',
    ]);
  });

  it('makes a short line slightly larger than the body a heading when it stands alone', () => {
    const [page] = renderMarkdown([
      [
        line('1 Introduction', 700, { size: 11 }),
        ...body(684, LONG_BODY, LONG_BODY),
        ...[660, 647].map((y) => line('Two lines in eleven points', y, { size: 11 })),
        ...body(630, LONG_BODY),
      ],
    ]);
    expect(page?.split('\n\n').filter((block) => block.startsWith('#'))).toEqual(['# 1 Introduction']);
  });

  it('makes a short bold line standing alone a heading below the sized ones, but not a long one', () => {
    const [page] = renderMarkdown([
      [
        line('Title', 730, { size: 16 }),
        line('Methods', 700, { bold: true }),
        ...body(688, LONG_BODY, LONG_BODY),
        line(LONG_BODY, 640, { bold: true }),
        ...body(628, LONG_BODY),
      ],
    ]);
    expect(page?.split('\n\n').slice(0, 2)).toEqual(['# Title', '## Methods']);
    expect(page).not.toContain(`# ${LONG_BODY}`);
  });

  it('makes a body-size heading of an italic line or a numbered section after a paragraph, but not of a line inside one', () => {
    const [page] = renderMarkdown([
      [
        ...body(730, LONG_BODY, 'the paragraph ends here.'),
        line('Boots Self-Locking Nut', 690, { italic: true }),
        ...body(676, LONG_BODY, 'and goes on.'),
        line('5.1 Hyper Parameter Optimization', 636),
        ...body(622, LONG_BODY),
        line('An italic line inside a paragraph', 610, { italic: true }),
        ...body(598, LONG_BODY),
      ],
    ]);
    expect(page?.split('\n\n').filter((block) => block.startsWith('#'))).toEqual([
      '# Boots Self-Locking Nut',
      '# 5.1 Hyper Parameter Optimization',
    ]);
  });

  it('never makes a heading of code, a list item, a caption, a table cell or a word of a form', () => {
    const [page] = renderMarkdown([
      [
        ...body(730, LONG_BODY),
        line('CREATE PERMISSION name', 700, { bold: true, mono: true }),
        ...body(686, LONG_BODY),
        line('1. The first item in bold', 656, { bold: true }),
        ...body(642, LONG_BODY),
        line('Figure 3. The harbour at dawn', 612, { bold: true }),
        ...body(598, LONG_BODY),
        line('No', 568, { bold: true }),
        ...body(554, LONG_BODY),
        line('Name Value', 524, {
          bold: true,
          cells: [
            { x: 72, end: 100, text: 'Name' },
            { x: 300, end: 325, text: 'Value' },
          ],
        }),
        ...body(510, LONG_BODY),
      ],
    ]);
    expect(page).not.toMatch(/^#/m);
  });

  it('reads three headings of one level in a row as paragraphs (taglines, names), two as a section and its first part', () => {
    const tagline = (text: string, y: number) => line(text, y, { size: 14, bold: true });
    const [page] = renderMarkdown([
      [
        tagline('Implement roles', 730),
        tagline('Leverage permissions', 700),
        tagline('Protect columns', 670),
        ...body(640, LONG_BODY, LONG_BODY),
        tagline('Chapter one', 600),
        line('1.1 The first part', 575, { bold: true }),
        ...body(560, LONG_BODY, LONG_BODY),
      ],
    ]);
    expect(page?.split('\n\n').filter((block) => block.startsWith('#'))).toEqual([
      '# Chapter one',
      '## 1.1 The first part',
    ]);
    expect(page).toContain('Implement roles');
  });

  it('ranks at most four heading levels: three sizes, then body-size headings', () => {
    const sizes = [30, 26, 22, 18, 14];
    const [page] = renderMarkdown([
      [
        ...sizes.flatMap((size, index) => [
          line(`Level of ${size}`, 760 - index * 60, { size }),
          ...body(740 - index * 60, LONG_BODY),
        ]),
        line('A bold heading', 430, { bold: true }),
        ...body(416, LONG_BODY, LONG_BODY),
      ],
    ]);
    const levels = page?.split('\n\n').flatMap((block) => /^(#+) /.exec(block)?.[1]?.length ?? []);
    expect(levels).toEqual([1, 2, 3, 3, 3, 4]);
  });

  it('never makes a heading of a paragraph in a large font', () => {
    // Four short lines: under the heading length, over the heading line count.
    const large = Array.from({ length: 4 }, () => 'Large text that goes on and on');
    const [page] = renderMarkdown([
      [...large.map((text, index) => line(text, 700 - index * 20, { size: 16 })), ...body(600, LONG_BODY, LONG_BODY)],
    ]);
    expect(page).not.toContain('#');
  });

  it('joins the lines of a paragraph, mends hyphenated words, and starts paragraphs at gaps and indents', () => {
    const [page] = renderMarkdown([
      [
        ...body(700, 'A first paragraph with an exam-', 'ple of a hyphen, a well-', 'Known name kept.'),
        ...body(650, 'After a gap, the second paragraph.', LONG_BODY),
        line('An indented line starts the third.', 626, { x: 90 }),
        line(LONG_BODY, 614),
      ],
    ]);
    expect(page?.split('\n\n')).toEqual([
      'A first paragraph with an example of a hyphen, a well- Known name kept.',
      `After a gap, the second paragraph. ${LONG_BODY}`,
      `An indented line starts the third. ${LONG_BODY}`,
    ]);
  });

  it('makes list items of bulleted and numbered lines, keeping hanging lines in the item', () => {
    const [page] = renderMarkdown([
      [
        ...body(700, '• bullet one', '◦ bullet two', '- dash', '* star', '– en dash', '1. first', '2) second'),
        line('its hanging line', 700 - 7 * 12, { x: 84 }),
        ...body(700 - 8 * 12, 'a) lettered', LONG_BODY),
      ],
    ]);
    expect(page).toBe(
      [
        '- bullet one',
        '- bullet two',
        '- dash',
        '- star',
        '- en dash',
        '1. first',
        '2. second its hanging line',
        `1. lettered ${LONG_BODY}`,
      ].join('\n'),
    );
  });

  it('makes a GFM table of lines whose cells share columns, escaping pipes', () => {
    const cells = (y: number, ...texts: string[]): PdfLine => ({
      ...line(texts.join(' '), y),
      cells: texts.map((text, index) => ({ x: 72 + index * 150, end: 72 + index * 150 + text.length * 5, text })),
    });
    const [page] = renderMarkdown([
      [
        ...body(760, LONG_BODY),
        cells(730, 'Name', 'Kind', 'Size'),
        cells(716, 'alpha', 'a|b', '10'),
        { ...line('wrapped', 704, { x: 222 }) },
        cells(690, 'beta', 'c', '20'),
        ...body(660, LONG_BODY),
      ],
    ]);
    expect(page?.split('\n\n')).toEqual([
      LONG_BODY,
      ['| Name | Kind | Size |', '| --- | --- | --- |', '| alpha | a\\|b wrapped | 10 |', '| beta | c | 20 |'].join(
        '\n',
      ),
      LONG_BODY,
    ]);
  });

  it('leaves a lone line with cells as text', () => {
    const [page] = renderMarkdown([
      [
        ...body(700, LONG_BODY),
        {
          ...line('2 Z. Shen', 680),
          cells: [
            { x: 72, end: 77, text: '2' },
            { x: 100, end: 135, text: 'Z. Shen' },
          ],
        },
      ],
    ]);
    expect(page).not.toContain('|');
  });
});

describe('list markers and line joins', () => {
  it.each([
    ['• item', { marker: '-', text: 'item' }],
    ['▪item', { marker: '-', text: 'item' }],
    ['12. item', { marker: '12.', text: 'item' }],
    ['b) item', { marker: '2.', text: 'item' }],
    ['-5 degrees', undefined],
    ['J. Smith wrote', undefined],
    ['2021. A year', undefined],
  ])('%j', (text, item) => {
    expect(listItemOf(text)).toEqual(item);
  });

  it('joins Chinese lines without a space and keeps hyphens before capitals', () => {
    expect(joinLines(['中文的第一', '行继续'])).toBe('中文的第一行继续');
    expect(joinLines(['exam-', 'ple'])).toBe('example');
    expect(joinLines(['Jean-', 'Paul'])).toBe('Jean- Paul');
  });
});
