import { spawnSync } from 'node:child_process';
import render from 'dom-serializer';
import { isTag, type AnyNode } from 'domhandler';
import { filter, removeElement } from 'domutils';
import { describe, expect, it } from 'vitest';
import { decodeText } from '../../lambdas/documents/encoding.js';
import { headingLines } from '../../lambdas/documents/chunking.js';
import { OPTION_DEFAULTS } from '../../lambdas/documents/options.js';
import { isBoilerplate } from '../../lambdas/documents/loaders/html-content.js';
import { htmlToText, parseHtml } from '../../lambdas/documents/loaders/html.js';
import { layOutTable, type SpannedCell } from '../../lambdas/documents/loaders/table-grid.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { corpusFiles, corpusPath, readCorpus } from '../support/corpus.js';

/**
 * pandoc (a Debian package; CI installs it) reads DOCX and HTML into its
 * document model on its own: the oracle for which headings and table rows
 * the Markdown output must keep.
 */
interface PandocNode {
  t: string;
  c?: unknown;
}

/**
 * A page as pandoc should see it: decoded (pandoc reads UTF-8 only) and
 * without the boilerplate the service leaves out by design (navigation,
 * forms, page header and footer), so that both read the same content.
 */
const pageContent = async (file: string): Promise<string> => {
  const root = await parseHtml(decodeText(readCorpus(file), { html: true }).text);
  const inContent = (node: AnyNode): boolean =>
    !!node.parent &&
    (['article', 'main', 'section'].includes((node.parent as { name?: string }).name ?? '') || inContent(node.parent));
  for (const element of filter((node) => isTag(node) && isBoilerplate(node, inContent(node)), root.children)) {
    removeElement(element);
  }
  return render(root);
};

const pandoc = async (file: string): Promise<PandocNode[]> => {
  const docx = file.endsWith('.docx');
  const run = spawnSync('pandoc', ['-f', docx ? 'docx' : 'html', '-t', 'json', ...(docx ? [corpusPath(file)] : [])], {
    input: docx ? undefined : await pageContent(file),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`pandoc failed on ${file}: ${run.stderr}`);
  return (JSON.parse(run.stdout) as { blocks: PandocNode[] }).blocks;
};

const normalize = (text: string) => text.replace(/\s+/g, ' ').trim();

/** The plain text of any pandoc node: strings and spaces in order, nested tables included. */
const plain = (node: unknown): string => {
  if (Array.isArray(node)) return node.map(plain).join('');
  if (!node || typeof node !== 'object') return '';
  const { t, c } = node as PandocNode;
  switch (t) {
    case 'Str':
      return c as string;
    case 'Space':
    case 'SoftBreak':
    case 'LineBreak':
      return ' ';
    case 'Code':
      return (c as [unknown, string])[1];
    case 'Link':
      return plain((c as unknown[])[1]);
    case 'Image':
    case 'Note':
      return '';
    case 'Emph':
    case 'Strong':
    case 'Underline':
    case 'Strikeout':
    case 'Superscript':
    case 'Subscript':
    case 'SmallCaps':
    case 'Span':
    case 'Quoted':
    case 'Cite':
      return plain(c);
    default:
      // Blocks (paragraphs, lists, divs) are separated by a space.
      return ` ${plain(c)} `;
  }
};

/**
 * Every table row pandoc finds (head, bodies, foot), as the text of its
 * non-empty cells, spans laid out as the service lays them out (a spanning
 * cell's text in each position it covers: table-grid.ts).
 */
const pandocRows = (blocks: PandocNode[]): string[] => {
  const rows: string[] = [];
  const cellsOf = (row: unknown): SpannedCell[] =>
    (row as [unknown, unknown[]])[1].map((cell) => {
      const [, , rowSpan, colSpan, content] = cell as [unknown, unknown, number, number, unknown];
      return { text: normalize(plain(content)), rowSpan, colSpan };
    });
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    const { t, c } = node as PandocNode;
    if (t === 'Table') {
      const [, , , head, bodies, foot] = c as [
        unknown,
        unknown,
        unknown,
        [unknown, unknown[]],
        unknown[],
        [unknown, unknown[]],
      ];
      const tableRows = [
        ...head[1],
        ...bodies.flatMap((body) => [
          ...((body as unknown[])[2] as unknown[]),
          ...((body as unknown[])[3] as unknown[]),
        ]),
        ...foot[1],
      ];
      for (const row of layOutTable(tableRows.map(cellsOf))) rows.push(row.filter(Boolean).join(' '));
      return;
    }
    visit(c);
  };
  visit(blocks);
  return rows.filter(Boolean);
};

const pandocHeadings = (blocks: PandocNode[]): string[] => {
  const headings: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    const { t, c } = node as PandocNode;
    if (t === 'Header') {
      const [level, , inlines] = c as [number, unknown, unknown];
      // An empty heading (a styled blank line) has nothing to keep.
      const text = normalize(plain(inlines));
      if (text) headings.push(`${level} ${text}`);
      return;
    }
    if (t !== 'Table') visit(c);
  };
  visit(blocks);
  return headings;
};

/** Our GFM rows: lines between pipes, separator rows left out, cells unescaped. */
const markdownRows = (markdown: string): string[] =>
  markdown
    .split('\n')
    .filter((line) => line.startsWith('| ') && !/^\|( --- \|)+$/.test(line))
    .map((line) =>
      line
        .slice(2, -2)
        .split(/(?<!\\) \| /)
        .map((cell) => normalize(cell.replace(/\\([|\\])/g, '$1').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')))
        .filter(Boolean)
        .join(' '),
    )
    .filter(Boolean);

const isSubsequence = (needles: string[], haystack: string[]): string | undefined => {
  let at = 0;
  for (const needle of needles) {
    while (at < haystack.length && haystack[at] !== needle) at++;
    if (at === haystack.length) return needle;
    at++;
  }
  return undefined;
};

const markdownOf = async (file: string): Promise<string> => {
  const result = await processDocument(
    { bytes: readCorpus(file), filename: file },
    { ...OPTION_DEFAULTS, output_format: 'markdown' },
  );
  return result.documents.map((document) => document.page_content).join('\n\n');
};

const FILES = corpusFiles().filter((file) => /\.(docx|html)$/.test(file));

/**
 * Its tables are broken (`<center><table></center><tr>…`, a table inside a
 * cell of such rows), and pandoc and this reader repair them differently:
 * pandoc moves the inner table out of its cell. The repair is tested below.
 */
const REPAIRED_DIFFERENTLY = new Set(['html/example-steelJIS-datasheet-utf-16.html']);

describe.each(FILES.filter((file) => !REPAIRED_DIFFERENTLY.has(file)))(
  'Markdown tables of %s against pandoc',
  (file) => {
    it('keeps every table row as one Markdown row, cells in order', async () => {
      const expected = pandocRows(await pandoc(file));
      const ours = markdownRows(await markdownOf(file));
      expect(isSubsequence(expected, ours), 'first row missing').toBeUndefined();
      expect(ours.length).toBe(expected.length);
    });
  },
);

describe.each(FILES)('Markdown headings of %s against pandoc', (file) => {
  it('keeps every heading at its level', async () => {
    const expected = pandocHeadings(await pandoc(file));
    const ours = headingLines(await markdownOf(file)).map(({ level, text }) => `${level} ${normalize(text)}`);
    expect(ours).toEqual(expected);
  });
});

describe('the HTML Markdown reading', () => {
  const markdown = async (html: string) => (await htmlToText(html, undefined, undefined, 'markdown')).text;

  it('renders tables with a header row, escaped pipes, thead and tbody, a cell across the whole width once', async () => {
    expect(
      await markdown(
        '<table><thead><tr><th>Severity</th><th>Meaning</th></tr></thead><tbody><tr><td colspan="2">S1 | down</td></tr><tr><td>S2</td><td><p>Degraded</p><p>service</p></td></tr></tbody></table>',
      ),
    ).toBe('| Severity | Meaning |\n| --- | --- |\n| S1 \\| down |  |\n| S2 | Degraded service |');
  });

  it('keeps every cell under its header when cells span rows and columns', async () => {
    const html =
      '<table><tr><th>Year</th><th>Month</th><th colspan="2">Money</th></tr>' +
      '<tr><td rowspan="3">2025</td><td>January</td><td>$134</td><td>$162</td></tr>' +
      '<tr><td>February</td><td rowspan="2">$150</td><td>$155</td></tr>' +
      '<tr><td>March</td><td>$143</td></tr>' +
      '<tr><td>Total</td><td colspan="3" rowspan="9">n/a</td></tr></table>';
    expect(await markdown(html)).toBe(
      [
        '| Year | Month | Money | Money |',
        '| --- | --- | --- | --- |',
        '| 2025 | January | $134 | $162 |',
        '| 2025 | February | $150 | $155 |',
        '| 2025 | March | $150 | $143 |',
        '| Total | n/a | n/a | n/a |',
      ].join('\n'),
    );
  });

  it('repeats a spanning value only within a budget: a long cell spanning many rows is not copied into each', async () => {
    const long = 'x'.repeat(5000);
    const rows = Array.from(
      { length: 50 },
      (_, index) => `<tr>${index === 0 ? `<td rowspan="50">${long}</td>` : ''}<td>${index}</td></tr>`,
    );
    const table = (await markdown(`<table>${rows.join('')}</table>`)).split('\n');
    expect(table).toHaveLength(51);
    expect(table.filter((line) => line.includes(long)).length).toBeLessThanOrEqual(6);
    expect(table[50]).toMatch(/\| 49 \|$/);
  });

  it('renders nested lists, numbered lists, links, inline code, pre and quotes', async () => {
    expect(
      await markdown(
        '<ul><li>one<ul><li>inner</li></ul></li><li><a href="https://x.test/a">two</a></li><ul><li>loose</li></ul></ul><ol><li>first</li><li>second</li></ol><p>run <code>npm test</code></p><pre>a\n  b</pre><blockquote><p>quoted</p><p>twice</p></blockquote>',
      ),
    ).toBe(
      '- one\n  - inner\n- [two](https://x.test/a)\n  - loose\n\n1. first\n2. second\n\nrun `npm test`\n\n```\na\n  b\n```\n\n> quoted\n>\n> twice',
    );
  });

  it('escapes paragraph text that would read as Markdown, drops unsafe links, keeps boilerplate out', async () => {
    expect(
      await markdown(
        '<nav><h1>Menu</h1></nav><p># not a heading</p><p>1. not a list</p><p><a href="javascript:alert(1)">click</a></p>',
      ),
    ).toBe('\\# not a heading\n\n1\\. not a list\n\nclick');
  });

  it("keeps rows that a stray end tag cut off from their table together as a table, a cell's table in its cell", async () => {
    expect(
      await markdown(
        '<center><table></center><tr><td>Grade</td><td>SNB22-3</td></tr><tr><td>Standards</td><td><table><tr><td>JIS G 4108</td></tr></table></td></tr></table><p>after</p>',
      ),
    ).toBe('| Grade | SNB22-3 |\n| --- | --- |\n| Standards | JIS G 4108 |\n\nafter');
  });

  it('reads nesting up to the depth cap without recursion', async () => {
    const depth = 1000; // elements, within maxHtmlDepth
    const html = '<div><ul><li>'.repeat(depth / 4) + 'deep' + '</li></ul></div>'.repeat(depth / 4);
    expect(await markdown(html)).toContain('deep');
  });
});
