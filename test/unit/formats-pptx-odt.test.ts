import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppError } from '../../lambdas/errors.js';
import { DEFAULT_LIMITS } from '../../lambdas/documents/limits.js';
import { loadDocx } from '../../lambdas/documents/loaders/docx.js';
import { loadOdt } from '../../lambdas/documents/loaders/odt.js';
import { loadPptx } from '../../lambdas/documents/loaders/pptx.js';
import type { LoadInput, Loader } from '../../lambdas/documents/loaders/types.js';
import { OPTION_DEFAULTS, type ProcessingOptions } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { corpusPath } from '../support/corpus.js';
import { chartXml } from '../support/xlsx.js';
import {
  docxCell,
  docxOf,
  nestedRepeatedTableOdt,
  odtContentXml,
  odtOf,
  pptxOf,
  repeatedSlidePptx,
  shape,
  slideXml,
  withHeapWatch,
  zipParts,
} from '../support/office-files.js';

const MB = 1024 * 1024;

/**
 * One Markdown source, written by pandoc as PPTX (a slide per level-2
 * heading, a section slide per level-1 heading, a title slide) and as ODT:
 * the expected text is known.
 */
const SOURCE = `---
title: Quarterly Harbour Report
---

# Operations

## Shipping volumes

The harbour handled more containers this quarter than in any quarter before, and the new gantry cranes kept the average turnaround under two days.

- Northern terminal expanded
- Southern berth repaired
    - Crane four replaced
    - Fender panels renewed
- Night shifts added

::: notes
Mention the weather delays in March and the pilots' strike.
:::

## Tonnage by terminal

| Terminal | Tonnage | Change |
|----------|---------|--------|
| North    | 1200    | rising |
| South    | 800     | falling |
| East     | 450     | steady |

## Safety record

1. No serious injuries were reported
2. Two near misses were investigated
3. Fire drills were held monthly

# Planning

## Outlook

Dredging begins next spring, so the deeper channel will admit larger vessels from the autumn onward.

Customs will move into the renovated warehouse once the [port authority](https://example.org/port) approves the lease.
`;

const words = (text: string): string[] => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];

/** Source words found in the output in order (longest common subsequence of words), over all source words. */
const recovered = (source: string, output: string): number => {
  const expected = words(
    source
      .replace(/^---[\s\S]*?---/, (front) => front.replace(/title:/, ''))
      .replace(/^:::.*$/gm, '')
      .replace(/^\s*\d+\. /gm, '')
      .replace(/\]\([^)]*\)/g, ']'),
  );
  const got = words(output);
  let previous = new Uint32Array(got.length + 1);
  for (const word of expected) {
    const current = new Uint32Array(got.length + 1);
    for (let j = 1; j <= got.length; j++) {
      current[j] = word === got[j - 1] ? (previous[j - 1] ?? 0) + 1 : Math.max(previous[j] ?? 0, current[j - 1] ?? 0);
    }
    previous = current;
  }
  return (previous[got.length] ?? 0) / expected.length;
};

let dir: string;
let deck: Buffer;
let odt: Buffer;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'docproc-office-'));
  writeFileSync(join(dir, 'source.md'), SOURCE);
  for (const format of ['pptx', 'odt']) {
    execFileSync('pandoc', [
      '-f',
      'markdown',
      '-t',
      format,
      '-o',
      join(dir, `source.${format}`),
      join(dir, 'source.md'),
    ]);
  }
  deck = readFileSync(join(dir, 'source.pptx'));
  odt = readFileSync(join(dir, 'source.odt'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (bytes: Buffer, filename: string, options: Partial<ProcessingOptions> = {}, limits = {}) =>
  processDocument({ bytes, filename }, { ...OPTION_DEFAULTS, ...options }, { limits });

const failureOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as AppError;
  }
  throw new Error('expected a failure');
};

const loadInput = (bytes: Buffer, overrides: Partial<LoadInput> = {}): LoadInput => ({
  bytes,
  filename: 'x',
  source: 'x',
  limits: DEFAULT_LIMITS,
  outputFormat: 'text',
  checkpoint: async () => {},
  ...overrides,
});

describe('PPTX', () => {
  it('gives one document per slide, in order, with slide and total_slides, and recovers the source text', async () => {
    const result = await run(deck, 'harbour.pptx');
    expect(result.format).toBe('pptx');
    expect(result.documents.map((doc) => doc.metadata)).toEqual(
      [1, 2, 3, 4, 5, 6, 7].map((slide) => ({
        source: 'harbour.pptx',
        filename: 'harbour.pptx',
        slide,
        total_slides: 7,
      })),
    );
    const titles = result.documents.map((doc) => doc.page_content.split('\n')[0]);
    expect(titles).toEqual([
      'Quarterly Harbour Report',
      'Operations',
      'Shipping volumes',
      'Tonnage by terminal',
      'Safety record',
      'Planning',
      'Outlook',
    ]);
    const text = result.documents.map((doc) => doc.page_content).join('\n\n');
    expect(recovered(SOURCE, text)).toBeGreaterThanOrEqual(0.98);
  });

  it('keeps each table row on one line, cells separated by " | "', async () => {
    const [, , , tonnage] = (await run(deck, 'harbour.pptx')).documents;
    expect(tonnage?.page_content).toBe(
      'Tonnage by terminal\n\nTerminal | Tonnage | Change\nNorth | 1200 | rising\nSouth | 800 | falling\nEast | 450 | steady',
    );
  });

  it('puts the speaker notes last, after a "Notes:" line (a "## Notes" section in Markdown)', async () => {
    const text = (await run(deck, 'harbour.pptx')).documents[2]?.page_content;
    expect(text).toMatch(/Night shifts added\n\nNotes:\nMention the weather delays in March and the pilots’ strike\.$/);
    const markdown = (await run(deck, 'harbour.pptx', { output_format: 'markdown' })).documents[2]?.page_content;
    expect(markdown).toMatch(/\n\n## Notes\n\nMention the weather delays in March/);
  });

  it('writes Markdown: the title as "# ", bullets as "- " (nested), numbered lists, GFM tables, links', async () => {
    const docs = (await run(deck, 'harbour.pptx', { output_format: 'markdown' })).documents;
    expect(docs[2]?.page_content).toContain(
      '# Shipping volumes\n\nThe harbour handled more containers this quarter than in any quarter before, and the new gantry cranes kept the average turnaround under two days.\n\n- Northern terminal expanded\n- Southern berth repaired\n  - Crane four replaced\n  - Fender panels renewed\n- Night shifts added',
    );
    expect(docs[3]?.page_content).toBe(
      '# Tonnage by terminal\n\n| Terminal | Tonnage | Change |\n| --- | --- | --- |\n| North | 1200 | rising |\n| South | 800 | falling |\n| East | 450 | steady |',
    );
    expect(docs[4]?.page_content).toContain('1. No serious injuries were reported\n2. Two near misses');
    expect(docs[6]?.page_content).toContain('[port authority](https://example.org/port)');
  });

  it('reads slides in presentation order (not by part name); the title first, then shapes in tree order, groups opened', async () => {
    const bytes = await pptxOf([
      {
        file: 'slide2.xml',
        xml: slideXml(
          `${shape(['Body first'])}<p:grpSp><p:nvGrpSpPr/>${shape(['Grouped'])}</p:grpSp>${shape(['The title'], 'title')}`,
        ),
      },
      {
        file: 'slide1.xml',
        xml: slideXml(
          '<p:sp><p:txBody><a:p><a:r><a:t>Hel</a:t></a:r><a:r><a:t>lo</a:t></a:r><a:br/><a:r><a:t>World</a:t></a:r></a:p></p:txBody></p:sp>',
        ),
      },
    ]);
    const docs = (await run(bytes, 'order.pptx')).documents;
    expect(docs.map((doc) => doc.page_content)).toEqual(['The title\n\nBody first\n\nGrouped', 'Hello\nWorld']);
  });

  it('reads the fallback of alternate content, lays merged table cells out under their columns, and joins a link split into runs', async () => {
    const textRun = (text: string, link = '') =>
      `<a:r><a:rPr>${link ? `<a:hlinkClick r:id="${link}"/>` : ''}</a:rPr><a:t>${text}</a:t></a:r>`;
    const cell = (text: string, merge = '') => `<a:tc${merge}><a:txBody><a:p>${textRun(text)}</a:p></a:txBody></a:tc>`;
    const table = `<p:graphicFrame><a:graphic><a:graphicData><a:tbl><a:tr>${cell('wide', ' gridSpan="2"')}${cell('', ' hMerge="1"')}${cell('c')}</a:tr><a:tr>${cell('d', ' rowSpan="2"')}${cell('e')}${cell('f')}</a:tr><a:tr>${cell('', ' vMerge="1"')}${cell('g')}${cell('h')}</a:tr></a:tbl></a:graphicData></a:graphic></p:graphicFrame>`;
    const bytes = await pptxOf([
      {
        file: 'slide1.xml',
        xml: slideXml(
          `<mc:AlternateContent><mc:Choice Requires="p14">${shape(['choice'])}</mc:Choice><mc:Fallback>${shape(['fallback'])}</mc:Fallback></mc:AlternateContent>${table}` +
            `<p:sp><p:txBody><a:p>${textRun('See the ')}${textRun('port ', 'rIdLink')}${textRun('authority', 'rIdLink')}${textRun('.')}</a:p></p:txBody></p:sp>`,
        ),
        links: { rIdLink: 'https://example.org/port' },
      },
    ]);
    const [text] = (await run(bytes, 'x.pptx')).documents;
    // A spanning cell's value stands in every position it covers: "d" heads both of its rows.
    expect(text?.page_content).toBe('fallback\n\nwide | wide | c\nd | e | f\nd | g | h\n\nSee the port authority.');
    const [markdown] = (await run(bytes, 'x.pptx', { output_format: 'markdown' })).documents;
    expect(markdown?.page_content).toBe(
      'fallback\n\n| wide | wide | c |\n| --- | --- | --- |\n| d | e | f |\n| d | g | h |\n\nSee the [port authority](https://example.org/port).',
    );
  });

  it('skips slides without text, keeping every slide its number; slide numbers and dates are not text', async () => {
    const bytes = await pptxOf([
      { file: 'slide1.xml', xml: slideXml(shape(['One'], 'title')) },
      { file: 'slide2.xml', xml: slideXml(`${shape(['  '])}${shape(['2'], 'sldNum')}${shape(['1 May'], 'dt')}`) },
      { file: 'slide3.xml', xml: slideXml(shape(['Three'])), notes: ['Say hello'] },
    ]);
    const docs = (await run(bytes, 'gaps.pptx')).documents;
    expect(docs.map((doc) => [doc.metadata.slide, doc.metadata.total_slides, doc.page_content])).toEqual([
      [1, 3, 'One'],
      [3, 3, 'Three\n\nNotes:\nSay hello'],
    ]);
  });

  it('gives no documents (NO_TEXT) for a presentation without text', async () => {
    const bytes = await pptxOf([{ file: 'slide1.xml', xml: slideXml('') }]);
    const result = await run(bytes, 'empty.pptx');
    expect(result.documents).toEqual([]);
    expect(result.warnings.map((warning) => warning.code)).toEqual(['NO_TEXT']);
  });

  it('checks for cancellation between slides and reports progress up to 1', async () => {
    let checkpoints = 0;
    const progress: number[] = [];
    await loadPptx(
      loadInput(deck, {
        checkpoint: async () => {
          checkpoints += 1;
        },
        onProgress: (fraction) => progress.push(fraction),
      }),
    );
    expect(checkpoints).toBeGreaterThanOrEqual(7);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.filter((fraction) => fraction < 1).length).toBeGreaterThanOrEqual(6);
    expect(progress.at(-1)).toBe(1);

    const stop = new Error('cancelled');
    let calls = 0;
    const stopped = loadPptx(
      loadInput(deck, {
        checkpoint: async () => {
          if (++calls > 3) throw stop;
        },
      }),
    );
    await expect(stopped).rejects.toBe(stop);
  });
});

describe('ODT', () => {
  it('gives one document and recovers the source text', async () => {
    const result = await run(odt, 'harbour.odt');
    expect(result.format).toBe('odt');
    expect(result.documents).toHaveLength(1);
    expect(result.documents[0]?.metadata).toEqual({ source: 'harbour.odt', filename: 'harbour.odt' });
    expect(recovered(SOURCE, result.documents[0]?.page_content ?? '')).toBeGreaterThanOrEqual(0.98);
  });

  it('reads as paragraphs in text output, each table row on one line', async () => {
    const text = (await run(odt, 'harbour.odt')).documents[0]?.page_content;
    expect(text).toContain('Shipping volumes\n\nThe harbour handled');
    expect(text).toContain('Northern terminal expanded\n\nSouthern berth repaired\n\nCrane four replaced');
    expect(text).toContain(
      'Terminal | Tonnage | Change\nNorth | 1200 | rising\nSouth | 800 | falling\nEast | 450 | steady',
    );
  });

  it('writes Markdown headings at their level, nested and numbered lists, GFM tables and links', async () => {
    const markdown = (await run(odt, 'harbour.odt', { output_format: 'markdown' })).documents[0]?.page_content;
    expect(markdown).toContain('# Operations\n\n## Shipping volumes\n\nThe harbour handled');
    expect(markdown).toContain(
      '- Northern terminal expanded\n- Southern berth repaired\n  - Crane four replaced\n  - Fender panels renewed\n- Night shifts added',
    );
    expect(markdown).toContain(
      '| Terminal | Tonnage | Change |\n| --- | --- | --- |\n| North | 1200 | rising |\n| South | 800 | falling |\n| East | 450 | steady |',
    );
    expect(markdown).toContain('1. No serious injuries were reported\n2. Two near misses were investigated');
    expect(markdown).toContain('# Planning\n\n## Outlook');
    expect(markdown).toContain('[port authority](https://example.org/port)');
  });

  it('keeps spaces, tabs and line breaks as ODF marks them, and collapses the XML’s own white space', async () => {
    const bytes = await odtOf(
      odtContentXml(
        '<text:p>  Two <text:span>spans</text:span>\n   <text:span> here</text:span>  </text:p>' +
          '<text:p>a<text:s text:c="3"/>b<text:tab/>c<text:line-break/>d<text:s text:c="999999999"/>e</text:p>' +
          '<text:p>no-break\u00a0 space</text:p>',
      ),
    );
    const text = (await run(bytes, 'spaces.odt')).documents[0]?.page_content;
    expect(text).toBe(`Two spans here\n\na   b\tc\nd${' '.repeat(100)}e\n\nno-break\u00a0 space`);
  });

  it('leaves out tracked deletions and comments, keeps sections, text boxes and footnotes (at the end)', async () => {
    const bytes = await odtOf(
      odtContentXml(
        '<text:tracked-changes><text:changed-region text:id="c1"><text:deletion><office:change-info/><text:p>Deleted words</text:p></text:deletion></text:changed-region></text:tracked-changes>' +
          '<text:p>Kept<text:change text:change-id="c1"/> text<office:annotation><dc:creator>Ann</dc:creator><text:p>A comment</text:p></office:annotation>.</text:p>' +
          '<text:section text:name="S"><text:p>In a section<text:note text:id="n1" text:note-class="footnote"><text:note-citation>1</text:note-citation><text:note-body><text:p>The note.</text:p></text:note-body></text:note></text:p></text:section>' +
          '<text:p>Anchor<draw:frame><svg:title>Alt text</svg:title><draw:text-box><text:p>In a box</text:p></draw:text-box></draw:frame></text:p>' +
          '<text:p>Title field: <text:title>Harbour</text:title></text:p>' +
          '<text:table-of-content><text:table-of-content-source><text:index-title-template>Template title</text:index-title-template></text:table-of-content-source><text:index-body><text:p>Contents entry</text:p></text:index-body></text:table-of-content>',
      ),
    );
    const text = (await run(bytes, 'changes.odt')).documents[0]?.page_content;
    expect(text).toBe(
      'Kept text.\n\nIn a section[1]\n\nAnchor\n\nIn a box\n\nTitle field: Harbour\n\nContents entry\n\n[1] The note.',
    );
  });

  it('lays DOCX merged cells (gridSpan, vMerge) out under their columns in Markdown', async () => {
    const row = (...cells: string[]) => `<w:tr>${cells.join('')}</w:tr>`;
    const bytes = await docxOf(
      `<w:tbl>${row(docxCell('Year'), docxCell('Month'), docxCell('Money', { gridSpan: 2 }))}${row(
        docxCell('2025', { vMerge: 'restart' }),
        docxCell('January'),
        docxCell('$134'),
        docxCell('$162'),
      )}${row(docxCell('', { vMerge: '' }), docxCell('February'), docxCell('$150'), docxCell('$155'))}</w:tbl>`,
    );
    const [markdown] = (await loadDocx(loadInput(bytes, { outputFormat: 'markdown' }))).documents;
    expect(markdown?.page_content).toBe(
      '| Year | Month | Money | Money |\n| --- | --- | --- | --- |\n| 2025 | January | $134 | $162 |\n| 2025 | February | $150 | $155 |',
    );
  });

  it("keeps a cell's list marks and reads a table nested in a cell as its cells in order", async () => {
    const cell = (inner: string) => `<table:table-cell>${inner}</table:table-cell>`;
    const list =
      '<text:list><text:list-item><text:p>First</text:p></text:list-item><text:list-item><text:p>Second</text:p></text:list-item></text:list>';
    const nested = `<table:table><table:table-row>${cell('<text:p>A</text:p>')}${cell('<text:p>B</text:p>')}</table:table-row></table:table>`;
    const bytes = await odtOf(
      odtContentXml(
        `<table:table><table:table-row>${cell('<text:p>Head</text:p>')}${cell('<text:p>Other</text:p>')}</table:table-row><table:table-row>${cell(list)}${cell(nested)}</table:table-row></table:table>`,
      ),
    );
    expect((await run(bytes, 'cells.odt')).documents[0]?.page_content).toBe('Head | Other\n- First - Second | A B');
  });

  it('lays merged cells out under their columns and keeps repeated ones', async () => {
    const bytes = await odtOf(
      odtContentXml(
        '<table:table><table:table-row><table:table-cell table:number-columns-spanned="2"><text:p>wide</text:p></table:table-cell><table:covered-table-cell/><table:table-cell table:number-rows-spanned="2"><text:p>c</text:p></table:table-cell></table:table-row>' +
          '<table:table-row><table:table-cell><text:p>a</text:p></table:table-cell><table:table-cell><text:p>b</text:p></table:table-cell><table:covered-table-cell/></table:table-row>' +
          '<table:table-row table:number-rows-repeated="2"><table:table-cell table:number-columns-repeated="2"><text:p>x</text:p></table:table-cell><table:table-cell><text:p>y</text:p><text:p>z</text:p></table:table-cell><table:table-cell table:number-columns-repeated="1000000"/></table:table-row></table:table>',
      ),
    );
    expect((await run(bytes, 'table.odt')).documents[0]?.page_content).toBe(
      'wide | wide | c\na | b | c\nx | x | y z\nx | x | y z',
    );
    expect((await run(bytes, 'table.odt', { output_format: 'markdown' })).documents[0]?.page_content).toBe(
      '| wide | wide | c |\n| --- | --- | --- |\n| a | b | c |\n| x | x | y z |\n| x | x | y z |',
    );
  });

  it('numbers a list whose style (in styles.xml) numbers it', async () => {
    const list =
      '<text:list text:style-name="Numbers"><text:list-item><text:p>first</text:p></text:list-item><text:list-item><text:p>second</text:p></text:list-item></text:list>';
    const numbers =
      '<text:list-style style:name="Numbers"><text:list-level-style-number text:level="1" style:num-format="1"/></text:list-style>';
    const styles = `<office:document-styles xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"><office:styles>${numbers}</office:styles></office:document-styles>`;
    const numbered = await odtOf(odtContentXml(list), [['styles.xml', styles]]);
    const plain = await odtOf(odtContentXml(list));
    const markdown = { output_format: 'markdown' } as const;
    expect((await run(numbered, 'n.odt', markdown)).documents[0]?.page_content).toBe('1. first\n2. second');
    expect((await run(plain, 'n.odt', markdown)).documents[0]?.page_content).toBe('- first\n- second');
  });

  it('lets a cancellation from the checkpoint through unchanged', async () => {
    const stop = new Error('cancelled');
    const stopped = loadOdt(
      loadInput(odt, {
        checkpoint: () => Promise.reject(stop),
      }),
    );
    await expect(stopped).rejects.toBe(stop);
  });

  it('reads lists nested as deep as the XML caps allow without overflowing the stack', async () => {
    const depth = 400;
    const body = `${'<text:list><text:list-item>'.repeat(depth)}<text:p>deepest</text:p>${'</text:list-item></text:list>'.repeat(depth)}`;
    const bytes = await odtOf(odtContentXml(body));
    expect((await run(bytes, 'deep.odt')).documents[0]?.page_content).toBe('deepest');
    // An item whose first block is a list starts with that list's marker: `- - - … deepest`.
    const markdown = (await run(bytes, 'deep.odt', { output_format: 'markdown' })).documents[0]?.page_content;
    expect(markdown).toBe(`${'- '.repeat(depth)}deepest`);
  });
});

describe('hostile PPTX and ODT', () => {
  it('reads a slide part listed many times once (50,000 entries for one 20 KB slide)', async () => {
    const bytes = await repeatedSlidePptx(50_000, 'word '.repeat(4000));
    expect(bytes.length).toBeLessThan(16 * 1024);
    const { result, growth } = await withHeapWatch((checkpoint) => loadPptx(loadInput(bytes, { checkpoint })));
    expect(result).not.toBeInstanceOf(Error);
    const { documents } = result as Awaited<ReturnType<Loader>>;
    expect(documents).toHaveLength(1);
    expect(documents[0]?.metadata).toMatchObject({ slide: 1, total_slides: 1 });
    expect(growth).toBeLessThan(100 * MB);
  });

  it('counts slide text against the output budget (maxOutputCharacters)', async () => {
    const bytes = await pptxOf([
      { file: 'slide1.xml', xml: slideXml(shape(['abcd'])) },
      { file: 'slide2.xml', xml: slideXml(shape(['efgh'])) },
    ]);
    const limits = (maxOutputCharacters: number) => ({ ...DEFAULT_LIMITS, maxOutputCharacters });
    expect((await loadPptx(loadInput(bytes, { limits: limits(8) }))).documents).toHaveLength(2);
    const failure = await failureOf(loadPptx(loadInput(bytes, { limits: limits(7) })));
    expect(failure.code).toBe('DOCUMENT_TOO_LARGE');
  });

  it('fails with DOCUMENT_TOO_LARGE on a repeated table nested in a repeated table, before the text is built', async () => {
    const bytes = await nestedRepeatedTableOdt(100);
    const { result, growth } = await withHeapWatch((checkpoint) =>
      loadOdt(loadInput(bytes, { checkpoint, limits: { ...DEFAULT_LIMITS, maxOutputCharacters: 20 * MB } })),
    );
    expect((result as AppError).code).toBe('DOCUMENT_TOO_LARGE');
    expect((result as AppError).message).toMatch(/maxOutputCharacters/);
    expect(growth).toBeLessThan(100 * MB);
    // With the default budget as well (the nested copies make 200 million characters and more).
    const { result: withDefaults, growth: defaultGrowth } = await withHeapWatch((checkpoint) =>
      loadOdt(loadInput(bytes, { checkpoint })),
    );
    expect((withDefaults as AppError).code).toBe('DOCUMENT_TOO_LARGE');
    expect(defaultGrowth).toBeLessThan(100 * MB);
    // One level of repeats is still read whole.
    const single = await odtOf(
      odtContentXml(
        '<table:table><table:table-row table:number-rows-repeated="3"><table:table-cell table:number-columns-repeated="2"><text:p>x</text:p></table:table-cell></table:table-row></table:table>',
      ),
    );
    expect((await loadOdt(loadInput(single))).documents[0]?.page_content).toBe('x | x\nx | x\nx | x');
  });

  it('reads a chart where it stands (kind, title, series as a table) and the comments with their authors and replies', async () => {
    const frame = `<p:graphicFrame><a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><a:graphicData><c:chart xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:id="rIdC"/></a:graphicData></a:graphic></p:graphicFrame>`;
    const comments = `<p:cmLst xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:cm authorId="0"><p:text>Check the figures</p:text></p:cm><p:cm authorId="1"><p:text>Done</p:text><p:extLst><p:ext><p15:threadingInfo xmlns:p15="x"><p15:parentCm authorId="0" idx="1"/></p15:threadingInfo></p:ext></p:extLst></p:cm></p:cmLst>`;
    const authors = `<p:cmAuthorLst xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:cmAuthor id="0" name="Ann Lee"/><p:cmAuthor id="1" name="Bo Chen"/></p:cmAuthorLst>`;
    const bytes = await pptxOf(
      [
        {
          file: 'slide1.xml',
          xml: slideXml(shape(['Before']) + frame + shape(['After'])),
          parts: [
            ['rIdC', 'chart', '../charts/chart1.xml'],
            ['rIdM', 'comments', '../comments/comment1.xml'],
          ],
        },
      ],
      [
        [
          'ppt/charts/chart1.xml',
          chartXml({
            title: 'Sales',
            kind: 'line',
            series: [{ name: 'EU', categories: ['Q1', 'Q2'], values: [3, 4] }],
          }),
        ],
        ['ppt/comments/comment1.xml', comments],
        ['ppt/commentAuthors.xml', authors],
      ],
      [['commentAuthors', 'commentAuthors.xml']],
    );
    const [text] = (await loadPptx(loadInput(bytes))).documents;
    expect(text?.page_content).toBe(
      'Before\n\nLine chart: Sales\n| EU\nQ1 | 3\nQ2 | 4\n\nAfter\n\nComment (Ann Lee): Check the figures\nReply (Bo Chen): Done',
    );
    const [markdown] = (await loadPptx(loadInput(bytes, { outputFormat: 'markdown' }))).documents;
    expect(markdown?.page_content).toContain('Line chart: Sales\n\n|  | EU |\n| --- | --- |\n| Q1 | 3 |\n| Q2 | 4 |');
  });

  it('warns of the pictures, embedded objects and diagrams of a presentation with their counts', async () => {
    const picture = '<p:pic><p:nvPicPr/></p:pic>';
    const ole = '<p:graphicFrame><a:graphic><a:graphicData><p:oleObj/></a:graphicData></a:graphic></p:graphicFrame>';
    const diagram =
      '<p:graphicFrame><a:graphic><a:graphicData><dgm:relIds xmlns:dgm="d"/></a:graphicData></a:graphic></p:graphicFrame>';
    const bytes = await pptxOf([
      { file: 'slide1.xml', xml: slideXml(shape(['One']) + picture + ole) },
      { file: 'slide2.xml', xml: slideXml(shape(['Two']) + picture + diagram) },
    ]);
    const result = await processDocument({ bytes, filename: 'deck.pptx' }, OPTION_DEFAULTS);
    expect(result.warnings).toEqual([
      {
        code: 'CONTENT_NOT_READ',
        message:
          'The presentation holds 2 pictures, 1 embedded object and 1 diagram that were not read: any text they hold is not in the result.',
      },
    ]);
  });

  const slideWith = (tree: string, prolog = '') => pptxOf([{ file: 'slide1.xml', xml: slideXml(tree, prolog) }]);
  const odtWith = (body: string, prolog = '') => odtOf(odtContentXml(body, { prolog }));

  const formats: Array<{
    name: string;
    filename: string;
    loader: Loader;
    withText: (text: string, prolog?: string) => Promise<Buffer>;
    deep: (depth: number) => Promise<Buffer>;
    bomb: () => Promise<Buffer>;
    crowded: (parts: number) => Promise<Buffer>;
  }> = [
    {
      name: 'PPTX',
      filename: 'x.pptx',
      loader: loadPptx,
      withText: (text, prolog) => slideWith(shape([text]), prolog),
      deep: (depth) => slideWith(`${'<p:grpSp>'.repeat(depth)}${shape(['x'])}${'</p:grpSp>'.repeat(depth)}`),
      bomb: () =>
        pptxOf(
          [{ file: 'slide1.xml', xml: slideXml(shape(['x'])) }],
          [['ppt/media/zeros.bin', new Uint8Array(64 * MB)]],
        ),
      crowded: (parts) =>
        pptxOf(
          [{ file: 'slide1.xml', xml: slideXml(shape(['x'])) }],
          Array.from({ length: parts }, (_, index) => [`ppt/media/${index}.bin`, 'x'] as const),
        ),
    },
    {
      name: 'ODT',
      filename: 'x.odt',
      loader: loadOdt,
      withText: (text, prolog) => odtWith(`<text:p>${text}</text:p>`, prolog),
      deep: (depth) => odtWith(`<text:p>${'<text:span>'.repeat(depth)}x${'</text:span>'.repeat(depth)}</text:p>`),
      bomb: () => odtOf(odtContentXml('<text:p>x</text:p>'), [['Pictures/zeros.bin', new Uint8Array(64 * MB)]]),
      crowded: (parts) =>
        odtOf(
          odtContentXml('<text:p>x</text:p>'),
          Array.from({ length: parts }, (_, index) => [`Pictures/${index}.bin`, 'x'] as const),
        ),
    },
  ];

  let server: Server;
  let hits = 0;
  let url = '';
  beforeAll(async () => {
    server = createServer((_request, response) => {
      hits += 1;
      response.end('FETCHED-SECRET');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/entity`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  describe.each(formats)('$name', (format) => {
    it('stops a zip bomb from its declared sizes, before inflating it', async () => {
      const bomb = await format.bomb();
      expect(bomb.length).toBeLessThan(200 * 1024);
      const before = process.memoryUsage().rss;
      const failure = await failureOf(run(bomb, format.filename, {}, { maxZipUncompressedBytes: 8 * MB }));
      expect(failure.code).toBe('DOCUMENT_TOO_LARGE');
      expect((process.memoryUsage().rss - before) / MB).toBeLessThan(32);
    });

    it('refuses an archive with too many parts', async () => {
      const failure = await failureOf(run(await format.crowded(30), format.filename, {}, { maxZipEntries: 20 }));
      expect(failure.code).toBe('DOCUMENT_TOO_LARGE');
    });

    it('fails typed, not with a stack overflow, on XML nested 10,000 deep', async () => {
      const failure = await failureOf(run(await format.deep(10_000), format.filename));
      expect(failure.code).toBe('DOCUMENT_PARSE_ERROR');
      expect(failure.message).toMatch(/nests elements more than 1024 levels/);
    });

    it('fetches and expands no entity (XXE, billion laughs)', async () => {
      const prolog = `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd"><!ENTITY web SYSTEM "${url}"><!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>`;
      const bytes = await format.withText('before &e; &web; &b; after', prolog);
      const result = await run(bytes, format.filename);
      const text = result.documents.map((doc) => doc.page_content).join('\n');
      expect(text).toContain('before');
      expect(text).toContain('after');
      expect(text).not.toMatch(/root:|FETCHED-SECRET|a{20}/);
      expect(hits).toBe(0);
    });

    it('fails with DOCUMENT_PARSE_ERROR on a damaged zip', async () => {
      const whole = await format.withText('hello');
      // Cut off the central directory: the archive cannot be opened.
      const truncated = whole.subarray(0, whole.length - 40);
      expect((await failureOf(run(truncated, format.filename))).code).toBe('DOCUMENT_PARSE_ERROR');
      // A part whose compressed data is garbage: it cannot be inflated.
      const corrupt = Buffer.from(whole);
      const at = corrupt.indexOf(format.name === 'PPTX' ? 'ppt/slides/slide1.xml' : 'content.xml') + 40;
      corrupt.fill(0xff, at, at + 24);
      expect((await failureOf(run(corrupt, format.filename))).code).toBe('DOCUMENT_PARSE_ERROR');
      // A zip without the format's main part.
      const empty = await zipParts([['other.xml', '<x/>']]);
      expect((await failureOf(format.loader(loadInput(empty)))).code).toBe('DOCUMENT_PARSE_ERROR');
    });
  });
});

describe('end to end', () => {
  it.each([
    ['harbour.pptx', 'pptx'],
    ['harbour.odt', 'odt'],
  ])('processes %s with chunking: format, chunk metadata', async (filename, format) => {
    const bytes = format === 'pptx' ? deck : odt;
    const result = await run(bytes, filename, {
      split: true,
      chunk_size: 60,
      chunk_overlap: 0,
      output_format: 'markdown',
      chunk_strategy: 'by_heading',
    });
    expect(result.format).toBe(format);
    expect(result.document_count).toBeGreaterThan(format === 'pptx' ? 7 : 1);
    const table = result.documents.find((doc) => doc.page_content.includes('| North | 1200 | rising |'));
    expect(table?.metadata.headings).toEqual(
      format === 'pptx' ? ['Tonnage by terminal'] : ['Operations', 'Tonnage by terminal'],
    );
    if (format === 'pptx') {
      expect(table?.metadata.slide).toBe(4);
      expect(table?.metadata.total_slides).toBe(7);
    }
    for (const doc of result.documents) expect(doc.page_content.length).toBeLessThanOrEqual(60);
  });
});

describe('DOCX (the same rule for cancellations)', () => {
  it('lets a cancellation from the checkpoint through unchanged, in text and Markdown reading', async () => {
    const docx = readFileSync(corpusPath('docx/simple.docx'));
    for (const outputFormat of ['text', 'markdown'] as const) {
      const stop = new Error('cancelled');
      let calls = 0;
      // The first checkpoint passes (after the archive opened); the next one, inside the reading, stops it.
      const checkpoint = () => (++calls > 1 ? Promise.reject(stop) : Promise.resolve());
      // Both readings parse the styles and numbering parts (heading numbers) under the checkpoint.
      await expect(loadDocx(loadInput(docx, { checkpoint, outputFormat }))).rejects.toBe(stop);
    }
  });
});
