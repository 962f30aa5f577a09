import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectFormat } from '../../lambdas/documents/detect.js';
import type { AppError } from '../../lambdas/errors.js';
import { DEFAULT_LIMITS, type ProcessingLimits } from '../../lambdas/documents/limits.js';
import { loadEpub, resolveHref, xhtmlForHtmlReading } from '../../lambdas/documents/loaders/epub.js';
import type { LoadInput } from '../../lambdas/documents/loaders/types.js';
import { OPTION_DEFAULTS } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';

const MB = 1024 * 1024;

/** The book pandoc makes the EPUBs from: four chapters (level-1 headings) with lists, a table, links and a note. */
const SOURCE = `# The Lighthouse Keeper

Marguerite kept the lighthouse on the northern cape for *thirty-one* years. Every
evening she climbed the **ninety-two** steps, trimmed the wick and wrote the weather
in a ledger bound in green cloth.

- wind from the west, steady
- fog rolling in before midnight
- three ships counted, all safe

She never missed a night, not even in the winter of the great storm.[^storm]

[^storm]: The storm of that winter flattened the harbour wall.

# Letters from the Mainland

Her brother wrote from the city every month. His letters spoke of trams, of
factories and of a café where the coffee was bitter and the music was loud.

## The Last Letter

The last letter arrived in spring. It said he would come to visit, and that he
would bring the children. See [the harbour records](https://example.com/records) for the date.

| Month | Letters |
|-------|---------|
| March | four    |
| April | two     |

# Déjà Vu at the Harbour

When the boat finally came, the children ran along the pier, naïve and delighted,
shouting at the gulls. Marguerite recognised her brother by his walk.

# Epilogue

The ledger is kept today in the town museum, open at the page of that spring.
`;

const HEADINGS = ['The Lighthouse Keeper', 'Letters from the Mainland', 'Déjà Vu at the Harbour', 'Epilogue'];
const BOOK_TITLE = 'The Keeper of the Cape';

const words = (text: string): string[] => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];

/** The source's words without Markdown syntax (markers, link targets, table rules). */
const SOURCE_WORDS = words(
  SOURCE.replace(/\[\^storm\]:?/g, ' ')
    .replace(/\]\([^)]*\)/g, ' ')
    .replace(/^\|[-| ]+\|$/gm, ' '),
);

/** Length of the longest common subsequence of two word lists: words recovered, in order. */
const lcsLength = (a: string[], b: string[]): number => {
  let previous = new Uint32Array(b.length + 1);
  for (const word of a) {
    const current = new Uint32Array(b.length + 1);
    for (let j = 1; j <= b.length; j++) {
      current[j] = word === b[j - 1] ? (previous[j - 1] ?? 0) + 1 : Math.max(previous[j] ?? 0, current[j - 1] ?? 0);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
};

let folder: string;
const books: Record<'epub3' | 'epub2', Buffer> = { epub3: Buffer.alloc(0), epub2: Buffer.alloc(0) };

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'docproc-epub-'));
  writeFileSync(join(folder, 'book.md'), SOURCE);
  for (const target of ['epub3', 'epub2'] as const) {
    const out = join(folder, `book-${target}.epub`);
    execFileSync(
      'pandoc',
      ['-f', 'markdown', '-t', target, '-o', out, '--metadata', `title=${BOOK_TITLE}`, 'book.md'],
      {
        cwd: folder,
      },
    );
    books[target] = readFileSync(out);
  }
});

afterAll(() => rmSync(folder, { recursive: true, force: true }));

const inputOf = (bytes: Uint8Array, overrides: Partial<LoadInput> = {}, limits: Partial<ProcessingLimits> = {}) => ({
  bytes,
  filename: 'book.epub',
  source: 'book.epub',
  limits: { ...DEFAULT_LIMITS, ...limits },
  outputFormat: 'text' as const,
  checkpoint: async () => {},
  ...overrides,
});

const codeOf = async (run: Promise<unknown>): Promise<string | undefined> => {
  try {
    await run;
  } catch (error) {
    return (error as AppError).code;
  }
  return undefined;
};

/** An EPUB's parts, with `mimetype` first and stored as the format requires (detection looks for it). */
const epubOf = async (parts: Record<string, string | Uint8Array>, mimetype = true): Promise<Buffer> => {
  const zip = new JSZip();
  if (mimetype) zip.file('mimetype', 'application/epub+zip', { compression: 'STORE' });
  for (const [name, content] of Object.entries(parts)) zip.file(name, content);
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
};

/** Rewrites one part of a pandoc book (a relabelled table of contents). */
const withPart = async (book: Buffer, name: string, edit: (text: string) => string): Promise<Buffer> => {
  const zip = await JSZip.loadAsync(book);
  const part = zip.file(name);
  if (!part) throw new Error(`no ${name} in the book`);
  const edited = edit(await part.async('string'));
  expect(edited).not.toBe(await part.async('string'));
  zip.file(name, edited);
  zip.file('mimetype', 'application/epub+zip', { compression: 'STORE' });
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
};

const CONTAINER = (opf = 'OEBPS/content.opf') =>
  `<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="${opf}" media-type="application/oebps-package+xml"/></rootfiles></container>`;

const OPF = (manifest: string, spine: string, title = 'Hand Made', prolog = '') =>
  `<?xml version="1.0" encoding="UTF-8"?>${prolog}<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>${title}</dc:title></metadata><manifest>${manifest}</manifest><spine>${spine}</spine></package>`;

const XHTML = (body: string, head = '<title>Untitled page</title>', prolog = '') =>
  `<?xml version="1.0" encoding="UTF-8"?>${prolog}<html xmlns="http://www.w3.org/1999/xhtml"><head>${head}</head><body>${body}</body></html>`;

const item = (id: string, href: string, type = 'application/xhtml+xml') =>
  `<item id="${id}" href="${href}" media-type="${type}"/>`;

describe('EPUB', () => {
  it.each(['epub3', 'epub2'] as const)(
    'reads a pandoc %s in spine order, one document per chapter, with titles and at least 98 percent of the words',
    async (target) => {
      const result = await processDocument({ bytes: books[target], filename: 'book.epub' }, OPTION_DEFAULTS);
      expect(result.format).toBe('epub');
      const { documents } = result;
      expect(documents.map((doc) => doc.metadata.chapter)).toEqual(documents.map((_, index) => index + 1));
      for (const doc of documents) expect(doc.metadata.book_title).toBe(BOOK_TITLE);
      // pandoc opens with a title page; the chapters follow in the source's order.
      const chapters = documents.filter((doc) => doc.metadata.title !== BOOK_TITLE);
      expect(chapters.map((doc) => doc.metadata.title)).toEqual(HEADINGS);
      expect(chapters[1]?.page_content).toContain('The Last Letter');
      expect(chapters[1]?.page_content).not.toContain('Déjà Vu');

      const extracted = words(documents.map((doc) => doc.page_content).join('\n'));
      const recovered = lcsLength(SOURCE_WORDS, extracted) / SOURCE_WORDS.length;
      expect(recovered).toBeGreaterThanOrEqual(0.98);
    },
  );

  it('keeps headings, lists, links and tables in Markdown output', async () => {
    const { documents } = await loadEpub(inputOf(books.epub3, { outputFormat: 'markdown' }));
    const letters = documents.find((doc) => doc.metadata.title === 'Letters from the Mainland')?.page_content ?? '';
    expect(letters).toMatch(/^# Letters from the Mainland/);
    expect(letters).toContain('\n## The Last Letter\n');
    expect(letters).toContain('[the harbour records](https://example.com/records)');
    expect(letters).toMatch(/\| *March *\| *four *\|/);
    const keeper = documents.find((doc) => doc.metadata.title === 'The Lighthouse Keeper')?.page_content ?? '';
    expect(keeper).toContain('- wind from the west, steady');
  });

  it('names a chapter from the EPUB 3 navigation document, over its heading', async () => {
    const book = await withPart(books.epub3, 'EPUB/nav.xhtml', (nav) =>
      nav.replace(/>Letters from the Mainland</, '>II. Letters (from the nav)<'),
    );
    const { documents } = await loadEpub(inputOf(book));
    expect(documents.map((doc) => doc.metadata.title)).toContain('II. Letters (from the nav)');
  });

  it('names a chapter from the EPUB 2 NCX, over its heading', async () => {
    const book = await withPart(books.epub2, 'EPUB/toc.ncx', (ncx) =>
      ncx.replace('<text>Letters from the Mainland</text>', '<text>II. Letters (from the NCX)</text>'),
    );
    const { documents } = await loadEpub(inputOf(book));
    expect(documents.map((doc) => doc.metadata.title)).toContain('II. Letters (from the NCX)');
  });

  it('resolves hrefs against the OPF (percent-encoded, ../), skips covers, reads linear="no" and repeats once', async () => {
    const book = await epubOf({
      'META-INF/container.xml': CONTAINER(),
      'OEBPS/content.opf': OPF(
        item('cover', 'Text/cover.xhtml') +
          item('one', 'Text/Chapter%201.xhtml') +
          item('notes', '../Extra/notes.xhtml') +
          item('two', 'Text/two.xhtml') +
          item('img', 'Images/cover.png', 'image/png'),
        '<itemref idref="cover"/><itemref idref="img"/><itemref idref="one"/><itemref idref="notes" linear="no"/><itemref idref="two"/><itemref idref="one"/>',
      ),
      'OEBPS/Text/cover.xhtml': XHTML('<div><img src="../Images/cover.png" alt=""/></div>'),
      'OEBPS/Images/cover.png': new Uint8Array([0x89, 0x50, 0x4e, 0x47]),
      'OEBPS/Text/Chapter 1.xhtml': XHTML('<h2>The First Heading</h2><p>First chapter text.</p>'),
      'Extra/notes.xhtml': XHTML('<p>Notes beside the flow.</p>', '<title>Notes Page</title>'),
      'OEBPS/Text/two.xhtml': XHTML('<p>Second chapter, no heading, no title.</p>', '<title></title>'),
    });
    const { documents } = await loadEpub(inputOf(book));
    expect(documents.map((doc) => [doc.metadata.chapter, doc.metadata.title, doc.page_content])).toEqual([
      [1, 'The First Heading', 'The First Heading\n\nFirst chapter text.'],
      [2, 'Notes Page', 'Notes beside the flow.'],
      [3, 'Hand Made', 'Second chapter, no heading, no title.'],
    ]);
  });

  it('gives no document for a navigation document in the spine, and names chapters from it', async () => {
    const nav = XHTML(
      '<nav epub:type="toc" xmlns:epub="http://www.idpf.org/2007/ops"><h1>Contents</h1><ol><li><a href="c.xhtml#start">From the Nav</a></li></ol></nav>',
    );
    const book = await epubOf({
      'META-INF/container.xml': CONTAINER(),
      'OEBPS/content.opf': OPF(
        '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>' + item('c', 'c.xhtml'),
        '<itemref idref="nav"/><itemref idref="c"/>',
      ),
      'OEBPS/nav.xhtml': nav,
      'OEBPS/c.xhtml': XHTML('<h1 id="start">Heading</h1><p>Text.</p>'),
    });
    const { documents } = await loadEpub(inputOf(book));
    expect(documents.map((doc) => [doc.metadata.chapter, doc.metadata.title])).toEqual([[1, 'From the Nav']]);
  });

  it('finds the package document without container.xml', async () => {
    const book = await epubOf({
      'book.opf': OPF(item('c', 'c.xhtml'), '<itemref idref="c"/>'),
      'c.xhtml': XHTML('<p>Found anyway.</p>'),
    });
    const { documents } = await loadEpub(inputOf(book));
    expect(documents[0]?.page_content).toBe('Found anyway.');
  });

  it('reads self-closed XHTML elements as XML means them, not as HTML would', async () => {
    const book = await epubOf({
      'META-INF/container.xml': CONTAINER('content.opf'),
      'content.opf': OPF(item('c', 'c.xhtml'), '<itemref idref="c"/>'),
      'c.xhtml': XHTML(
        '<p><a id="p1"/>Anchored text.</p><div/><p>After an empty div &amp; an&nbsp;entity.</p><script src="x.js"/><p>Still here.</p>',
        '<title/>',
      ),
    });
    const { documents } = await loadEpub(inputOf(book, { outputFormat: 'markdown' }));
    expect(documents[0]?.page_content).toBe('Anchored text.\n\nAfter an empty div & an\u00a0entity.\n\nStill here.');
    expect(xhtmlForHtmlReading('<br/><hr /><a id="x"/><img src="a.png"/>')).toBe(
      '<br/><hr /><a id="x"></a><img src="a.png"/>',
    );
  });

  it('ignores hrefs that leave the archive or name a URL', async () => {
    expect(resolveHref('OEBPS/content.opf', '../../etc/passwd')).toBeUndefined();
    expect(resolveHref('OEBPS/content.opf', 'file:///etc/passwd')).toBeUndefined();
    expect(resolveHref('OEBPS/content.opf', 'https://example.com/x.xhtml')).toBeUndefined();
    expect(resolveHref('OEBPS/content.opf', '/etc/passwd')).toBe('etc/passwd');
    expect(resolveHref('OEBPS/Text/a.xhtml', '../Text/b%20c.xhtml#frag')).toBe('OEBPS/Text/b c.xhtml');
    const book = await epubOf({
      'META-INF/container.xml': CONTAINER(),
      'OEBPS/content.opf': OPF(
        item('escape', '../../etc/passwd') + item('url', 'file:///etc/passwd') + item('c', 'c.xhtml'),
        '<itemref idref="escape"/><itemref idref="url"/><itemref idref="c"/>',
      ),
      'OEBPS/c.xhtml': XHTML('<p>Only this.</p>'),
    });
    const { documents } = await loadEpub(inputOf(book));
    expect(documents.map((doc) => doc.page_content)).toEqual(['Only this.']);
  });

  it('resolves no external entity and expands no entity, in the OPF or a chapter', async () => {
    const doctype = `<!DOCTYPE package [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY lol "lollollollollollollollollollol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>`;
    const book = await epubOf({
      'META-INF/container.xml': CONTAINER(),
      'OEBPS/content.opf': OPF(item('c', 'c.xhtml'), '<itemref idref="c"/>', 'Title &xxe; &lol2;', doctype),
      'OEBPS/c.xhtml': XHTML('<p>Secret: &xxe; Laughs: &lol2;</p>', '<title>x</title>', doctype),
    });
    const { documents } = await loadEpub(inputOf(book));
    const all = JSON.stringify(documents);
    expect(all).not.toMatch(/root:|lollol/);
    expect(documents[0]?.page_content).toContain('Secret: &xxe; Laughs: &lol2;');
    expect(all.length).toBeLessThan(2_000);
  });

  it('stops a zip bomb before inflating it', async () => {
    const bomb = await epubOf({
      'META-INF/container.xml': CONTAINER(),
      'OEBPS/content.opf': OPF(item('c', 'c.xhtml'), '<itemref idref="c"/>'),
      'OEBPS/c.xhtml': new Uint8Array(64 * MB),
    });
    expect(bomb.length).toBeLessThan(200 * 1024);
    expect(detectFormat(bomb, 'upload')).toBe('epub');
    const before = process.memoryUsage().rss;
    const code = await codeOf(
      processDocument({ bytes: bomb, filename: 'bomb.epub' }, OPTION_DEFAULTS, {
        limits: { maxZipUncompressedBytes: 8 * MB },
      }),
    );
    expect(code).toBe('DOCUMENT_TOO_LARGE');
    expect((process.memoryUsage().rss - before) / MB).toBeLessThan(32);
  });

  it.each([
    ['a chapter', 'c.xhtml'],
    ['the OPF', 'content.opf'],
  ])('fails typed on 10,000-deep nesting in %s', async (_where, part) => {
    const deep = `${'<div>'.repeat(10_000)}x${'</div>'.repeat(10_000)}`;
    const parts: Record<string, string> = {
      'META-INF/container.xml': CONTAINER('content.opf'),
      'content.opf': OPF(item('c', 'c.xhtml'), '<itemref idref="c"/>'),
      'c.xhtml': XHTML('<p>x</p>'),
    };
    parts[part] = part === 'c.xhtml' ? XHTML(deep) : OPF(item('c', 'c.xhtml'), `<itemref idref="c"/>${deep}`);
    expect(await codeOf(loadEpub(inputOf(await epubOf(parts))))).toBe('DOCUMENT_PARSE_ERROR');
  });

  it('refuses a DRM-encrypted book, and reads one whose fonts alone are obfuscated', async () => {
    const encryption = (algorithm: string, uri: string) =>
      `<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:EncryptionMethod Algorithm="${algorithm}"/><enc:CipherData><enc:CipherReference URI="${uri}"/></enc:CipherData></enc:EncryptedData></encryption>`;
    const parts = {
      'META-INF/container.xml': CONTAINER(),
      'OEBPS/content.opf': OPF(item('c', 'c.xhtml'), '<itemref idref="c"/>'),
      'OEBPS/c.xhtml': XHTML('<p>Readable.</p>'),
    };
    const drm = await epubOf({
      ...parts,
      'META-INF/encryption.xml': encryption('http://www.w3.org/2001/04/xmlenc#aes128-cbc', 'OEBPS/c.xhtml'),
    });
    expect(await codeOf(loadEpub(inputOf(drm)))).toBe('UNSUPPORTED_DOCUMENT_TYPE');
    const fonts = await epubOf({
      ...parts,
      'META-INF/encryption.xml': encryption('http://www.idpf.org/2008/embedding', 'OEBPS/c.xhtml'),
    });
    expect((await loadEpub(inputOf(fonts))).documents[0]?.page_content).toBe('Readable.');
  });

  it('splits chapters through processDocument, each chunk keeping its chapter', async () => {
    const result = await processDocument(
      { bytes: books.epub3, filename: 'book.epub' },
      { ...OPTION_DEFAULTS, split: true, chunk_size: 120, chunk_overlap: 0 },
    );
    expect(result.format).toBe('epub');
    expect(result.documents.length).toBeGreaterThan(5);
    for (const chunk of result.documents) {
      expect(chunk.page_content.length).toBeLessThanOrEqual(120);
      expect(chunk.metadata).toMatchObject({ book_title: BOOK_TITLE, chunk_index: expect.any(Number) });
      expect(typeof chunk.metadata.chapter).toBe('number');
    }
    const epilogue = result.documents.filter((chunk) => chunk.metadata.title === 'Epilogue');
    expect(epilogue.map((chunk) => chunk.page_content).join(' ')).toContain('town museum');
  });
});

describe('XHTML for the HTML reading', () => {
  it('drops a DOCTYPE internal subset and reads CDATA as text', async () => {
    const { xhtmlForHtmlReading } = await import('../../lambdas/documents/loaders/epub.js');
    const xhtml =
      '<?xml version="1.0"?><!DOCTYPE html [ <!ENTITY e "x"> ]><html><body><p>Before</p><p><![CDATA[a < b & c]]></p></body></html>';
    const prepared = xhtmlForHtmlReading(xhtml);
    expect(prepared).not.toContain(']>');
    expect(prepared).toContain('<p>a &lt; b &amp; c</p>');
    // Unclosed sections and subsets leave the rest as it was, in one pass.
    expect(xhtmlForHtmlReading('<p><![CDATA[open')).toBe('<p><![CDATA[open');
    expect(xhtmlForHtmlReading(`${'<![CDATA['.repeat(50_000)}x`)).toHaveLength(50_000 * 9 + 1);
  });
});
