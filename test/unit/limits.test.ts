import { describe, expect, it } from 'vitest';
import { cleanFilename, MAX_FILENAME_LENGTH } from '../../lambdas/core/filenames.js';
import type { AppError } from '../../lambdas/errors.js';
import { OPTION_DEFAULTS } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { pageSaying, pdfBomb, pdfWithContents } from '../../fuzz/hostile.js';

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return (error as AppError).code;
  }
  return undefined;
};

describe('file names are data', () => {
  it.each([
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\me\\report.pdf', 'report.pdf'],
    ['inv\u0000oi\u001bce.pdf', 'invoice.pdf'],
    ['evil\u202egpj.exe', 'evilgpj.exe'],
    ['  ..  ', 'document'],
    ['', 'document'],
    ['new\r\nline.txt', 'newline.txt'],
  ])('%j becomes %j', (raw, clean) => {
    expect(cleanFilename(raw)).toBe(clean);
  });

  it('caps very long names, keeping the extension', () => {
    const name = cleanFilename(`${'a'.repeat(5000)}.pdf`);
    expect(name).toHaveLength(MAX_FILENAME_LENGTH);
    expect(name.endsWith('.pdf')).toBe(true);
  });
});

describe('size caps', () => {
  it('refuses text and HTML above the cap before decoding them', async () => {
    const limits = { maxTextBytes: 1024 };
    const text = Buffer.alloc(2048, 'a');
    expect(await codeOf(processDocument({ bytes: text, filename: 'a.txt' }, OPTION_DEFAULTS, { limits }))).toBe(
      'DOCUMENT_TOO_LARGE',
    );
    const html = Buffer.concat([Buffer.from('<html><body>'), Buffer.alloc(2048, 'a')]);
    expect(await codeOf(processDocument({ bytes: html, filename: 'a.html' }, OPTION_DEFAULTS, { limits }))).toBe(
      'DOCUMENT_TOO_LARGE',
    );
  });

  it('refuses a result with more documents than allowed', async () => {
    const text = Buffer.from('word '.repeat(2000));
    const error = await codeOf(
      processDocument(
        { bytes: text, filename: 'a.txt' },
        { split: true, chunk_size: 10, chunk_overlap: 0 },
        { limits: { maxDocuments: 100 } },
      ),
    );
    expect(error).toBe('DOCUMENT_TOO_LARGE');
  });
});

describe('HTML structure caps', () => {
  const html = (body: string) => Buffer.from(`<!doctype html><html><body>${body}</body></html>`);
  const run = (body: string, limits = {}) =>
    processDocument({ bytes: html(body), filename: 'a.html' }, OPTION_DEFAULTS, { limits });

  it('reads text nested 1,000 levels deep (no recursion to overflow)', async () => {
    const result = await run(`${'<div>'.repeat(1000)}deep text${'</div>'.repeat(1000)}`);
    expect(result.documents[0]?.page_content).toBe('deep text');
  });

  // 10,000 levels overflowed the recursive walk with a RangeError; 2.2 MB of them took 87 s to parse.
  it.each([
    ['unclosed divs', '<div>'.repeat(10_000)],
    ['unclosed formatting tags', '<b><i>'.repeat(400_000)],
    ['nested tables', '<table><tr><td>'.repeat(5_000)],
  ])('refuses %s nested past the depth cap with DOCUMENT_PARSE_ERROR', async (_name, body) => {
    expect(await codeOf(run(body))).toBe('DOCUMENT_PARSE_ERROR');
  });

  it('counts stray closing tags against the tag cap (the parser searches its stack for each)', async () => {
    expect(await codeOf(run(`${'<div>'.repeat(100)}${'</x>'.repeat(1000)}`, { maxHtmlTags: 500 }))).toBe(
      'DOCUMENT_TOO_LARGE',
    );
    expect(await codeOf(run('<p>a'.repeat(1000), { maxHtmlTags: 500 }))).toBe('DOCUMENT_TOO_LARGE');
    expect((await run('<p>a'.repeat(1000))).documents[0]?.page_content).toContain('a\n\na');
  });
});

describe("PDF decompression caps (the engine's memory)", () => {
  const MB = 1024 * 1024;

  it('stops a stream that inflates past the cap: DOCUMENT_TOO_LARGE, not 96 MB of buffer', async () => {
    const bomb = pdfBomb(96);
    expect(bomb.length).toBeLessThan(256 * 1024);
    const error = await codeOf(
      processDocument({ bytes: bomb, filename: 'bomb.pdf' }, OPTION_DEFAULTS, {
        limits: { maxPdfMemoryBytes: 48 * MB },
      }),
    );
    expect(error).toBe('DOCUMENT_TOO_LARGE');
  });

  it('reads the same PDF when the cap allows it (the cap only bounds, never changes text)', async () => {
    const result = await processDocument({ bytes: pdfBomb(1), filename: 'fine.pdf' }, OPTION_DEFAULTS);
    expect(result.documents[0]?.page_content).toBe('Hello');
  });

  it('applies the cap in the PDF threads too', async () => {
    const pages = Array.from({ length: 60 }, (_, index) => pageSaying(`page ${index + 1}`));
    pages[40] = Buffer.concat([pageSaying('bomb'), Buffer.alloc(96 * MB, ' ')]);
    const error = await codeOf(
      processDocument({ bytes: pdfWithContents(pages), filename: 'bomb.pdf' }, OPTION_DEFAULTS, {
        limits: { maxPdfMemoryBytes: 48 * MB, pdfThreads: 2, pdfParallelMinPages: 2 },
      }),
    );
    expect(error).toBe('DOCUMENT_TOO_LARGE');
  });
});
