import { describe, expect, it } from 'vitest';
import { OPTION_DEFAULTS } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { readCorpus } from '../support/corpus.js';

const load = async (file: string, filename = file.split('/').pop() ?? file) =>
  processDocument({ bytes: readCorpus(file), filename }, OPTION_DEFAULTS);

const squeeze = (text: string) => text.replace(/\s+/g, '');

/** Length of the longest common subsequence: characters recovered, in order. */
const lcsLength = (a: string, b: string): number => {
  const left = [...a];
  const right = [...b];
  let previous = new Uint32Array(right.length + 1);
  for (const char of left) {
    const current = new Uint32Array(right.length + 1);
    for (let j = 1; j <= right.length; j++) {
      current[j] = char === right[j - 1] ? (previous[j - 1] ?? 0) + 1 : Math.max(previous[j] ?? 0, current[j - 1] ?? 0);
    }
    previous = current;
  }
  return previous[right.length] ?? 0;
};

/** The memo's text without Markdown markup. */
const memoText = squeeze(
  readCorpus('zh/zh-memo.md')
    .toString('utf8')
    .replace(/^#+\s*/gm, '')
    .replace(/\*\*/g, ''),
);

describe('loaders', () => {
  it.each(['zh/zh-memo.pdf', 'zh/zh-memo.docx', 'zh/zh-memo.html'])(
    'recovers at least 99%% of the Chinese memo, in order, from %s',
    async (file) => {
      const result = await load(file);
      const extracted = squeeze(result.documents.map((doc) => doc.page_content).join(''));
      const recovered = lcsLength(memoText, extracted) / [...memoText].length;
      expect(recovered).toBeGreaterThanOrEqual(0.99);
    },
  );

  it('reads Hangul from the Korean PDF, with no replacement characters', async () => {
    const text = (await load('pdf/korean-text-with-tables.pdf')).documents.map((doc) => doc.page_content).join('\n');
    expect(text).toMatch(/[\uAC00-\uD7A3]{2}/);
    expect(text).not.toContain('\uFFFD');
    expect(text).toContain('적립 제외 대상');
  });

  it('gives one document per PDF page with text, with 1-based page numbers', async () => {
    const result = await load('pdf/layout-parser-paper-with-empty-pages.pdf');
    const pages = result.documents.map((doc) => doc.metadata.page);
    expect(pages[0]).toBe(1);
    expect(new Set(pages).size).toBe(pages.length);
    expect(result.stats.pages).toBeGreaterThan(pages.length); // the empty pages are skipped
    for (const doc of result.documents) expect(doc.metadata.total_pages).toBe(result.stats.pages);
  });

  it('decodes the windows-1252 HTML to Unicode', async () => {
    const [doc] = (await load('html/fake-html-cp1252.html')).documents;
    expect(doc?.page_content).toContain('Die schöne Frau');
    expect(doc?.page_content).toContain('15,50 €');
    expect(doc?.page_content).toContain("L'été était très chaud");
    expect(doc?.page_content).not.toContain('\uFFFD');
  });

  it('decodes UTF-16 HTML (with BOM) and UTF-16LE text (without BOM)', async () => {
    const [html] = (await load('html/example-steelJIS-datasheet-utf-16.html')).documents;
    expect(html?.page_content).toContain('SteelJIS');
    expect(html?.metadata.title).toMatch(/\w/);
    const [text] = (await load('text/fake-text-utf-16-le.txt')).documents;
    expect(text?.page_content).toContain('This is a test document to use for unit tests.');
    expect(text?.page_content).not.toContain('\u0000');
  });

  it('drops scripts, styles and page chrome from HTML and keeps the title', async () => {
    const [doc] = (await load('html/example-with-scripts.html')).documents;
    expect(doc?.metadata.title).toBe(
      'Russian Offensive Campaign Assessment, December 13 | Institute for the Study of War',
    );
    expect(doc?.page_content).not.toMatch(/function\s*\(|@import|var\s+\w+\s*=/);
    const [simple] = (await load('html/fake-html-with-footer-and-header.html')).documents;
    expect(simple?.page_content).toBe('My First Heading\n\nMy first paragraph.');
  });

  it('reads DOCX text with mammoth', async () => {
    const [doc] = (await load('docx/fake.docx')).documents;
    expect(doc?.page_content).toBe('Lorem ipsum dolor sit amet.');
  });

  it('treats CSV, JSON and Markdown as text', async () => {
    const csv = await load('text/csv-with-escaped-commas.csv');
    expect(csv.format).toBe('text');
    expect(csv.documents[0]?.page_content).toContain('A,A,A,"A,A",A');
    const json = await processDocument(
      { bytes: Buffer.from('{"a": [1, 2]}'), filename: 'data.json', contentType: 'application/json' },
      OPTION_DEFAULTS,
    );
    expect(json.documents[0]?.page_content).toBe('{"a": [1, 2]}');
  });

  it('splits with chunk metadata that points back into the parent', async () => {
    const bytes = readCorpus('text/norwich-city.txt');
    const whole = await processDocument({ bytes, filename: 'n.txt' }, OPTION_DEFAULTS);
    const parent = whole.documents[0]?.page_content ?? '';
    const split = await processDocument(
      { bytes, filename: 'n.txt' },
      { split: true, chunk_size: 300, chunk_overlap: 30 },
    );
    expect(split.documents.length).toBeGreaterThan(100);
    split.documents.forEach((chunk, index) => {
      expect(chunk.metadata.chunk_index).toBe(index);
      const start = chunk.metadata.start_index as number;
      expect(parent.slice(start, start + chunk.page_content.length)).toBe(chunk.page_content);
    });
  });
});
