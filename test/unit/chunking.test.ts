import { getEncoding } from 'js-tiktoken';
import { describe, expect, it } from 'vitest';
import { chunkDocuments, headingLines } from '../../lambdas/documents/chunking.js';
import type { Document } from '../../lambdas/documents/document.js';
import { DEFAULT_LIMITS } from '../../lambdas/documents/limits.js';
import {
  CHUNK_STRATEGIES,
  OPTION_DEFAULTS,
  parseOptions,
  type ProcessingOptions,
  type TokenizerName,
} from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { tokenCounter } from '../../lambdas/documents/tokenizer.js';
import { corpusFiles, readCorpus } from '../support/corpus.js';

const context = { limits: DEFAULT_LIMITS, checkpoint: async () => {}, sourceDigest: () => 'digest' };

const chunk = (documents: Document[], options: Partial<ProcessingOptions>) =>
  chunkDocuments(documents, { ...OPTION_DEFAULTS, ...options }, context);

const doc = (page_content: string, metadata: Document['metadata'] = { source: 's' }): Document => ({
  page_content,
  metadata,
});

/** The unsplit documents of a corpus file in each output format, loaded once. */
const loaded = new Map<string, Promise<Document[]>>();
const parentsOf = (file: string, outputFormat: 'text' | 'markdown'): Promise<Document[]> => {
  const key = `${outputFormat} ${file}`;
  const documents =
    loaded.get(key) ??
    processDocument(
      { bytes: readCorpus(file), filename: file },
      { ...OPTION_DEFAULTS, output_format: outputFormat },
    ).then(
      (result) => result.documents,
      () => [],
    );
  loaded.set(key, documents);
  return documents;
};

/** The two largest files are read by the bench; every other corpus file here. */
const FILES = corpusFiles().filter((file) => !file.includes('DA-619p') && !file.includes('handbook-872p'));

const HANDBOOK = [
  '# Field Service Handbook',
  'Intro text.',
  '## Recording Faults',
  'How to record.',
  '### Component Codes',
  'Codes table.',
  '```',
  '# not a heading (code)',
  '```',
  '## Escalation',
  'Call the desk.',
].join('\n');

describe('headingLines', () => {
  it('finds ATX headings with their level, outside fenced code, closing hashes dropped', () => {
    const text =
      '# One #\ntext\n#hashtag\n  ### Three\n```\n## fenced\n```\n~~~\n# fenced too\n~~~\n###### Six\n####### seven';
    expect(headingLines(text).map(({ level, text: title }) => [level, title])).toEqual([
      [1, 'One'],
      [3, 'Three'],
      [6, 'Six'],
    ]);
  });
});

describe('chunkDocuments', () => {
  it('adds end_index, headings and chunk_id only when a structure option is given', async () => {
    const [plain] = await chunk([doc('alpha beta')], { split: true });
    expect(Object.keys(plain?.metadata ?? {})).toEqual(['source', 'chunk_index', 'start_index']);
    const [structured] = await chunk([doc('alpha beta')], { split: true, chunk_strategy: 'recursive' });
    expect(structured?.metadata).toMatchObject({ start_index: 0, end_index: 10, headings: [] });
    expect(structured?.metadata.chunk_id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('by_heading: no chunk holds a heading line, each carries its section path, code fences are not headings', async () => {
    const chunks = await chunk([doc(HANDBOOK)], {
      split: true,
      chunk_strategy: 'by_heading',
      chunk_size: 200,
      chunk_overlap: 0,
    });
    expect(chunks.map((c) => [c.page_content, c.metadata.headings])).toEqual([
      ['Intro text.', ['Field Service Handbook']],
      ['How to record.', ['Field Service Handbook', 'Recording Faults']],
      [
        'Codes table.\n```\n# not a heading (code)\n```',
        ['Field Service Handbook', 'Recording Faults', 'Component Codes'],
      ],
      ['Call the desk.', ['Field Service Handbook', 'Escalation']],
    ]);
  });

  it('by_heading splits a long section further, never across its heading', async () => {
    const long = `# A\n${'word '.repeat(100)}\n# B\nshort`;
    const chunks = await chunk([doc(long)], {
      split: true,
      chunk_strategy: 'by_heading',
      chunk_size: 60,
      chunk_overlap: 0,
    });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) {
      expect(c.page_content).not.toMatch(/^# /m);
      expect(c.page_content.length).toBeLessThanOrEqual(60);
    }
    expect(chunks.at(-1)?.metadata.headings).toEqual(['B']);
    expect(chunks.at(-2)?.metadata.headings).toEqual(['A']);
  });

  it('carries the heading path from one document (page) to the next', async () => {
    const chunks = await chunk([doc('# Report\n## Costs\nfirst page', { page: 1 }), doc('second page', { page: 2 })], {
      split: true,
      chunk_strategy: 'by_heading',
    });
    expect(chunks.map((c) => [c.metadata.page, c.metadata.headings])).toEqual([
      [1, ['Report', 'Costs']],
      [2, ['Report', 'Costs']],
    ]);
  });

  it('recursive and markdown strategies give each chunk the path where it starts', async () => {
    const chunks = await chunk([doc(HANDBOOK)], {
      split: true,
      chunk_strategy: 'markdown',
      chunk_size: 40,
      chunk_overlap: 0,
    });
    const codes = chunks.find((c) => c.page_content.includes('Codes table'));
    expect(codes?.metadata.headings).toEqual(['Field Service Handbook', 'Recording Faults', 'Component Codes']);
    expect(chunks[0]?.metadata.headings).toEqual(['Field Service Handbook']);
  });

  it('gives stable chunk ids that change with the source, the options and the position', async () => {
    const options = { split: true, chunk_strategy: 'recursive' as const, chunk_size: 20, chunk_overlap: 0 };
    const text = 'same words here. same words here. same words here.';
    const ids = async (digest: string, extra: Partial<ProcessingOptions> = {}) =>
      (
        await chunkDocuments(
          [doc(text)],
          { ...OPTION_DEFAULTS, ...options, ...extra },
          { ...context, sourceDigest: () => digest },
        )
      ).map((c) => c.metadata.chunk_id);
    const first = await ids('a');
    expect(await ids('a')).toEqual(first);
    expect(new Set(first).size).toBe(first.length);
    expect(await ids('b')).not.toEqual(first);
    expect(await ids('a', { chunk_size: 21 })).not.toEqual(first);
  });
});

describe.each(FILES)('chunks of %s', (file) => {
  it.each(['text', 'markdown'] as const)(
    'in %s: offsets exact into the parent, sizes kept, for every strategy',
    async (outputFormat) => {
      const parents = await parentsOf(file, outputFormat);
      for (const strategy of CHUNK_STRATEGIES) {
        const chunks = await chunk(parents, {
          split: true,
          chunk_strategy: strategy,
          chunk_size: 300,
          chunk_overlap: 50,
        });
        let parentIndex = -1;
        for (const c of chunks) {
          if (c.metadata.chunk_index === 0) parentIndex++;
          // A parent may give no chunk (a page of headings only, under by_heading): a page's chunks name their page.
          const parent = (parents.find((p) => c.metadata.page !== undefined && p.metadata.page === c.metadata.page) ??
            parents[parentIndex]) as Document;
          parentIndex = parents.indexOf(parent);
          const { start_index: start, end_index: end } = c.metadata as { start_index: number; end_index: number };
          expect(parent.page_content.slice(start, end)).toBe(c.page_content);
          expect(c.page_content.length).toBeLessThanOrEqual(300);
          if (strategy === 'by_heading') expect(headingLines(c.page_content)).toEqual([]);
        }
      }
    },
  );
});

describe('token-sized chunks', () => {
  const encoders = { cl100k_base: getEncoding('cl100k_base'), o200k_base: getEncoding('o200k_base') };
  const count = (tokenizer: TokenizerName, text: string) => encoders[tokenizer].encode(text, [], []).length;

  it.each(['cl100k_base', 'o200k_base'] as const)(
    'never exceed chunk_size %s tokens over the corpus, and are packed close to it',
    async (tokenizer) => {
      const size = 256;
      const sizes: number[] = [];
      for (const file of FILES) {
        for (const outputFormat of ['text', 'markdown'] as const) {
          const parents = await parentsOf(file, outputFormat);
          const chunks = await chunk(parents, {
            split: true,
            chunk_size: size,
            chunk_overlap: 32,
            chunk_size_unit: 'tokens',
            tokenizer,
          });
          for (const c of chunks) {
            const tokens = count(tokenizer, c.page_content);
            expect(tokens, `${file}: ${c.page_content.slice(0, 60)}`).toBeLessThanOrEqual(size);
            sizes.push(tokens);
          }
        }
      }
      sizes.sort((a, b) => a - b);
      expect(sizes[Math.floor(sizes.length / 2)]).toBeGreaterThan(size * 0.6);
    },
  );

  it.each(['cl100k_base', 'o200k_base'] as const)(
    'count as js-tiktoken encodes (%s), on every corpus text',
    async (tokenizer) => {
      const counter = await tokenCounter(tokenizer);
      for (const file of FILES) {
        for (const parent of await parentsOf(file, 'markdown')) {
          const text = parent.page_content.slice(0, 200_000);
          expect(counter(text), file).toBe(count(tokenizer, text));
        }
      }
      const tricky = 'a\r\n\n  \t b<|endoftext|>\u00a0😀😀 123456789 ÀÉ \ud800 x';
      expect(counter(tricky)).toBe(count(tokenizer, tricky));
    },
  );

  it('cuts text without separators (CJK, emoji) between code points, within the size', async () => {
    const text = '中文字符😀'.repeat(2000);
    const chunks = await chunk([doc(text)], {
      split: true,
      chunk_size: 50,
      chunk_overlap: 10,
      chunk_size_unit: 'tokens',
    });
    for (const c of chunks) {
      expect(count('cl100k_base', c.page_content)).toBeLessThanOrEqual(50);
      expect(c.page_content).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    }
    expect(chunks.map((c) => c.page_content).join('').length).toBeGreaterThanOrEqual(text.length);
  });

  it('counts special-token text as text', async () => {
    const chunks = await chunk([doc('<|endoftext|> '.repeat(50))], {
      split: true,
      chunk_size: 20,
      chunk_overlap: 0,
      chunk_size_unit: 'tokens',
    });
    expect(chunks.length).toBeGreaterThan(1);
  });
});

describe('structure options', () => {
  it('name the allowed values when one is unknown', () => {
    expect(() => parseOptions({ chunk_strategy: 'semantic' })).toThrow(
      /chunk_strategy: expected one of: recursive, markdown, by_heading, by_page/,
    );
    expect(() => parseOptions({ output_format: 'html' })).toThrow(/output_format: expected one of: text, markdown/);
    expect(() => parseOptions({ chunk_size_unit: 'words' })).toThrow(/chunk_size_unit: expected one of: chars, tokens/);
    expect(() => parseOptions({ chunk_size_unit: 'tokens', tokenizer: 'gpt2' })).toThrow(
      /tokenizer: expected one of: cl100k_base, o200k_base/,
    );
  });

  it('refuse a tokenizer without token units, and a token size too small for one character', () => {
    expect(() => parseOptions({ tokenizer: 'cl100k_base' })).toThrow(/tokenizer applies only with chunk_size_unit/);
    expect(() => parseOptions({ chunk_size_unit: 'tokens', chunk_size: 3, chunk_overlap: 0 })).toThrow(/at least 4/);
  });

  it('keep pages canonical and refuse what is not a page selection', () => {
    expect(parseOptions({ pages: ' 7, 1-3,2 ,4' }).pages).toBe('1-4,7');
    for (const bad of ['', '0', '3-1', 'a', '1-', '1,,2', '1-2-3', '9999999']) {
      expect(() => parseOptions({ pages: bad }), bad).toThrow(/pages: expected pages like "1-3,7"/);
    }
  });

  it('stay absent when not given, so a first-version request is unchanged', () => {
    expect(parseOptions({ split: 'true' })).toEqual({ split: true, chunk_size: 1000, chunk_overlap: 200 });
  });
});
