import { RecursiveCharacterTextSplitter } from '@langchain/textsplitters';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OPTION_DEFAULTS } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { MARKDOWN_SEPARATORS, RecursiveCharacterSplitter, type Chunk } from '../../lambdas/documents/splitter.js';
import { corpusFiles, readCorpus } from '../support/corpus.js';

const SETTINGS: Array<[number, number]> = [
  [1000, 200],
  [200, 50],
  [50, 0],
  [4000, 200],
  [100, 99],
  [1, 0],
  [2, 1],
];

const langchain = (text: string, chunkSize: number, chunkOverlap: number): Promise<string[]> =>
  new RecursiveCharacterTextSplitter({ chunkSize, chunkOverlap }).splitText(text);

const ours = (text: string, chunkSize: number, chunkOverlap: number): Chunk[] =>
  new RecursiveCharacterSplitter({ chunkSize, chunkOverlap }).split(text);

const expectStartIndexInvariant = (text: string, chunks: Chunk[]) => {
  for (const chunk of chunks) expect(text.slice(chunk.start, chunk.start + chunk.text.length)).toBe(chunk.text);
};

/** The texts the service really splits: what the loaders make of every corpus file. */
const loaded = new Map<string, Promise<string[]>>();
const loadedTexts = (file: string): Promise<string[]> => {
  const texts =
    loaded.get(file) ??
    processDocument({ bytes: readCorpus(file), filename: file }, OPTION_DEFAULTS).then(
      (result) => result.documents.map((document) => document.page_content),
      () => [], // files that fail to load are covered by the corpus test
    );
  loaded.set(file, texts);
  return texts;
};

describe('RecursiveCharacterSplitter', () => {
  describe.each(corpusFiles())('on the text of %s', (file) => {
    it.each(SETTINGS.filter(([size]) => size >= 50))('matches LangChain at (%i, %i)', async (size, overlap) => {
      for (const text of await loadedTexts(file)) {
        const chunks = ours(text, size, overlap);
        expect(chunks.map((chunk) => chunk.text)).toEqual(await langchain(text, size, overlap));
        expectStartIndexInvariant(text, chunks);
      }
    });
  });

  const alphabet = fc.constantFrom('a', 'b', ' ', '\n', '\n\n', 'xyz ', '  ', '\t', '\u3000', '中文', '😀', 'é');
  const texts = fc.array(alphabet, { maxLength: 400 }).map((parts) => parts.join(''));

  it.each(SETTINGS)('matches LangChain on generated strings at (%i, %i)', async (size, overlap) => {
    await fc.assert(
      fc.asyncProperty(texts, async (text) => {
        const chunks = ours(text, size, overlap);
        expect(chunks.map((chunk) => chunk.text)).toEqual(await langchain(text, size, overlap));
        expectStartIndexInvariant(text, chunks);
      }),
      { numRuns: 150, seed: 20261127 },
    );
  });

  it('matches LangChain on generated settings', async () => {
    const settings = fc
      .tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 299 }))
      .filter(([size, overlap]) => overlap < size);
    await fc.assert(
      fc.asyncProperty(texts, settings, async (text, [size, overlap]) => {
        expect(ours(text, size, overlap).map((chunk) => chunk.text)).toEqual(await langchain(text, size, overlap));
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  describe('with the Markdown separators (chunk_strategy "markdown")', () => {
    const markdownLangchain = (text: string, chunkSize: number, chunkOverlap: number) =>
      RecursiveCharacterTextSplitter.fromLanguage('markdown', { chunkSize, chunkOverlap }).splitText(text);
    const markdownOurs = (text: string, chunkSize: number, chunkOverlap: number) =>
      new RecursiveCharacterSplitter({ chunkSize, chunkOverlap, separators: MARKDOWN_SEPARATORS }).split(text);
    const markdownTexts = new Map<string, Promise<string[]>>();
    const markdownOf = (file: string) => {
      const texts =
        markdownTexts.get(file) ??
        processDocument(
          { bytes: readCorpus(file), filename: file },
          { ...OPTION_DEFAULTS, output_format: 'markdown' },
        ).then(
          (result) => result.documents.map((document) => document.page_content),
          () => [],
        );
      markdownTexts.set(file, texts);
      return texts;
    };

    it("has LangChain's separators for Markdown", () => {
      expect(MARKDOWN_SEPARATORS).toEqual(RecursiveCharacterTextSplitter.getSeparatorsForLanguage('markdown'));
    });

    it.each(corpusFiles().filter((file) => !file.includes('DA-619p') && !file.includes('handbook')))(
      'matches LangChain on the Markdown of %s',
      async (file) => {
        for (const text of await markdownOf(file)) {
          for (const [size, overlap] of [
            [1000, 200],
            [200, 50],
          ] as const) {
            const chunks = markdownOurs(text, size, overlap);
            expect(chunks.map((chunk) => chunk.text)).toEqual(await markdownLangchain(text, size, overlap));
            expectStartIndexInvariant(text, chunks);
          }
        }
      },
    );

    const markdownParts = fc.constantFrom(
      '# T',
      '\n## ',
      '\n### H',
      '```\n\n',
      '\n\n---\n\n',
      '\n\n***\n\n',
      'word ',
      '\n\n',
      '\n',
      '| a | b |',
      '- item',
      '😀',
    );
    it('matches LangChain on generated Markdown', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(markdownParts, { maxLength: 200 }),
          fc.constantFrom<[number, number]>([40, 10], [100, 0], [7, 3]),
          async (parts, [size, overlap]) => {
            const text = parts.join('');
            expect(markdownOurs(text, size, overlap).map((chunk) => chunk.text)).toEqual(
              await markdownLangchain(text, size, overlap),
            );
          },
        ),
        { numRuns: 200, seed: 20261128 },
      );
    });
  });

  it('places repeated passages at their own offsets, unlike an indexOf search', () => {
    const paragraph = 'The same paragraph again and again.';
    const text = Array.from({ length: 6 }, () => paragraph).join('\n\n');
    const chunks = ours(text, 40, 0);
    expect(chunks.map((chunk) => chunk.start)).toEqual([0, 37, 74, 111, 148, 185]);
    expectStartIndexInvariant(text, chunks);
  });

  it.each([
    [100, 99],
    [50, 0],
    [7, 3],
    [2, 1],
  ])('matches LangChain on text without any separator at (%i, %i)', async (size, overlap) => {
    const text = 'abcdefghij中文😀'.repeat(300);
    const chunks = ours(text, size, overlap);
    expect(chunks.map((chunk) => chunk.text)).toEqual(await langchain(text, size, overlap));
    expectStartIndexInvariant(text, chunks);
  });

  it('splits long stretches without separators in one pass, at their own offsets', () => {
    const text = `${'x'.repeat(2_000_000)}\n\n${'y '.repeat(1_000_000)}`;
    const chunks = ours(text, 1000, 200);
    expect(chunks).toHaveLength(2500 + 2500);
    expectStartIndexInvariant(text, chunks);
    expect(chunks[2500]?.start).toBe(2_000_002);
  });

  it('stops with DOCUMENT_TOO_LARGE when the output budget runs out, across calls that share it', () => {
    const budget = { chunks: 1000, characters: 1_000_000 };
    const splitter = new RecursiveCharacterSplitter({ chunkSize: 10, chunkOverlap: 9, budget });
    expect(splitter.split('z'.repeat(600))).toHaveLength(591);
    expect(() => splitter.split('z'.repeat(600))).toThrow(expect.objectContaining({ code: 'DOCUMENT_TOO_LARGE' }));
    const characters = new RecursiveCharacterSplitter({
      chunkSize: 1000,
      chunkOverlap: 999,
      budget: { chunks: 1e9, characters: 50_000 },
    });
    expect(() => characters.split('w'.repeat(2000))).toThrow(expect.objectContaining({ code: 'DOCUMENT_TOO_LARGE' }));
  });

  it('rejects an overlap that is not smaller than the chunk size', () => {
    expect(() => new RecursiveCharacterSplitter({ chunkSize: 100, chunkOverlap: 100 })).toThrow(RangeError);
    expect(() => new RecursiveCharacterSplitter({ chunkSize: 100, chunkOverlap: 150 })).toThrow(RangeError);
    expect(() => new RecursiveCharacterSplitter({ chunkSize: 0, chunkOverlap: 0 })).toThrow(RangeError);
  });
});
