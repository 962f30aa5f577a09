import { describe, expect, it } from 'vitest';
import { detectFormat } from '../../lambdas/documents/detect.js';
import { charsetOf, decodeText } from '../../lambdas/documents/encoding.js';
import type { AppError } from '../../lambdas/errors.js';
import { readCorpus } from '../support/corpus.js';

const codeOf = (run: () => unknown): string | undefined => {
  try {
    run();
  } catch (error) {
    return (error as AppError).code;
  }
  return undefined;
};

describe('detectFormat', () => {
  it('trusts the bytes over the name and the declared type', () => {
    expect(detectFormat(readCorpus('pdf/fake-memo.pdf'), 'notes.txt', 'text/plain')).toBe('pdf');
    expect(detectFormat(readCorpus('docx/fake.docx'), 'file.bin')).toBe('docx');
    expect(detectFormat(readCorpus('html/fake-html.html'), 'page.txt', 'text/plain')).toBe('html');
    expect(detectFormat(readCorpus('html/example-steelJIS-datasheet-utf-16.html'), 'x')).toBe('html');
  });

  it('falls back to the declared type, then the extension', () => {
    const text = Buffer.from('plain words');
    expect(detectFormat(text, 'x.bin', 'text/markdown')).toBe('text');
    expect(detectFormat(text, 'notes.md')).toBe('text');
    expect(detectFormat(text, 'noextension')).toBe('text');
    expect(detectFormat(Buffer.from('not really'), 'fake.pdf')).toBe('pdf');
  });

  it.each([
    ['GIF', Buffer.from('GIF89a\u0001\u0000', 'latin1')],
    ['OLE2', Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])],
    ['zip', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0])],
    ['binary', Buffer.from([0, 1, 2, 3, 0, 0, 0xff, 0x00, 0x10])],
  ])('refuses %s data with UNSUPPORTED_DOCUMENT_TYPE', (_name, bytes) => {
    expect(codeOf(() => detectFormat(bytes, 'upload'))).toBe('UNSUPPORTED_DOCUMENT_TYPE');
  });

  it('reads HTML after an XML declaration and comments, and text that only looks similar as text', () => {
    expect(detectFormat(Buffer.from('<?xml version="1.0"?>\n<!-- a --> <!----><html><body>x'), 'x')).toBe('html');
    expect(detectFormat(Buffer.from('  <!DOCTYPE html><p>x'), 'x')).toBe('html');
    expect(detectFormat(Buffer.from('<!-- never closed <html>'), 'x')).toBe('text');
    expect(detectFormat(Buffer.from('<?xml never closed'), 'x')).toBe('text');
    expect(detectFormat(Buffer.from('<htmlx>'), 'x')).toBe('text');
  });

  // Both backtracked exponentially in a regular expression: 351 bytes kept a worker busy until its timeout.
  it.each([
    ['empty comments', '<!---->'.repeat(50) + 'x'],
    ['comments and spaces', '<!-- -->  '.repeat(5_000) + 'x'],
    ['unclosed comments', '<!--'.repeat(20_000)],
    ['comments, then a tag', '<!---->'.repeat(50_000) + '<html>'],
  ])('detects in one pass over %s', (_name, text) => {
    expect(['text', 'html']).toContain(detectFormat(Buffer.from(text), 'upload'));
  });

  it('takes %PDF- for a PDF only at the start, unless the name or type says PDF', () => {
    const quoted = Buffer.from('Notes on the format.\nEvery file starts with %PDF-1.7 and ends with %%EOF.\n');
    expect(detectFormat(quoted, 'notes.txt')).toBe('text');
    expect(detectFormat(quoted, 'upload')).toBe('text');
    expect(detectFormat(Buffer.from('\r\n  %PDF-1.4\n'), 'upload')).toBe('pdf');
    const prefixed = Buffer.concat([Buffer.from('X-Gateway: scanned\n'), readCorpus('pdf/fake-memo.pdf')]);
    expect(detectFormat(prefixed, 'memo.pdf')).toBe('pdf');
    expect(detectFormat(prefixed, 'memo', 'application/pdf')).toBe('pdf');
  });

  it('refuses binary data that claims to be text', () => {
    expect(codeOf(() => detectFormat(Buffer.from([0, 1, 2, 0, 0, 9, 0, 0]), 'a.txt', 'text/plain'))).toBe(
      'UNSUPPORTED_DOCUMENT_TYPE',
    );
  });
});

describe('decodeText', () => {
  it.each([
    ['utf-8', Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from('héllo')])],
    ['utf-16le', Buffer.from([0xff, 0xfe, ...Buffer.from('héllo', 'utf16le')])],
    ['utf-16be', Buffer.from([0xfe, 0xff, ...Buffer.from('héllo', 'utf16le').swap16()])],
    [
      'utf-32le',
      Buffer.from([0xff, 0xfe, 0, 0, 0x68, 0, 0, 0, 0xe9, 0, 0, 0, 0x6c, 0, 0, 0, 0x6c, 0, 0, 0, 0x6f, 0, 0, 0]),
    ],
    [
      'utf-32be',
      Buffer.from([0, 0, 0xfe, 0xff, 0, 0, 0, 0x68, 0, 0, 0, 0xe9, 0, 0, 0, 0x6c, 0, 0, 0, 0x6c, 0, 0, 0, 0x6f]),
    ],
  ])('reads a %s BOM', (encoding, bytes) => {
    expect(decodeText(bytes)).toEqual({ text: 'héllo', encoding });
  });

  it('uses <meta charset> for HTML, then UTF-8, then windows-1252', () => {
    const latin = Buffer.from('<html><head><meta charset="iso-8859-1"></head><body>caf\xe9</body></html>', 'latin1');
    expect(decodeText(latin, { html: true }).text).toContain('café');
    expect(decodeText(Buffer.from('naïve ✓')).encoding).toBe('utf-8');
    expect(decodeText(Buffer.from('caf\xe9 \x80', 'latin1'))).toEqual({ text: 'café €', encoding: 'windows-1252' });
  });

  it('honours a declared charset', () => {
    expect(charsetOf('text/html; charset="Shift_JIS"')).toBe('Shift_JIS');
    expect(decodeText(Buffer.from([0x82, 0xa0]), { declaredCharset: 'shift_jis' }).text).toBe('あ');
  });
});

describe('zip-based documents, by their own directory', () => {
  it('names the container, not a document embedded in it (stored as is, its part names show in the bytes)', async () => {
    const JSZip = (await import('jszip')).default;
    const embedded = new JSZip();
    embedded.file('word/document.xml', '<w:document/>');
    const docx = await embedded.generateAsync({ type: 'uint8array', compression: 'STORE' });
    const deck = new JSZip();
    deck.file('ppt/embeddings/Microsoft_Word_Document.docx', docx, { compression: 'STORE' });
    deck.file('ppt/presentation.xml', '<p:presentation/>');
    const bytes = await deck.generateAsync({ type: 'uint8array', compression: 'STORE' });
    expect(Buffer.from(bytes).includes('word/document.xml')).toBe(true);
    expect(detectFormat(bytes, 'deck.pptx')).toBe('pptx');
  });

  it('reads an OpenDocument type from the stored mimetype entry, and refuses the ones it does not read', async () => {
    const JSZip = (await import('jszip')).default;
    const of = async (mimetype: string) => {
      const zip = new JSZip();
      zip.file('mimetype', mimetype, { compression: 'STORE' });
      zip.file('content.xml', '<office:document-content/>');
      return zip.generateAsync({ type: 'uint8array', compression: 'DEFLATE' });
    };
    expect(detectFormat(await of('application/vnd.oasis.opendocument.text'), 'x')).toBe('odt');
    expect(detectFormat(await of('application/epub+zip'), 'x')).toBe('epub');
    expect(() => detectFormat(Buffer.from(''), 'x')).not.toThrow();
  });
});

describe('e-mail sniffing, strictly', () => {
  it.each([
    ['a memo with To and Subject', 'To: team\nSubject: plan\nOwner: alice\nPriority: high\n\nWe ship in May.\n'],
    ['YAML with from and to', 'from: 2024-01-01\nto: 2024-12-31\nbudget: 1000\n\nnotes\n'],
  ])('leaves %s as text', (_name, text) => {
    expect(detectFormat(Buffer.from(text), 'memo.txt', 'text/plain')).toBe('text');
    expect(detectFormat(Buffer.from(text), 'upload')).toBe('text');
  });

  it('knows a message behind a BOM or an mbox From line', () => {
    const message = 'From: a@example.com\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nSubject: x\r\n\r\nbody';
    expect(detectFormat(Buffer.from(`\uFEFF${message}`), 'upload')).toBe('eml');
    expect(detectFormat(Buffer.from(`From a@example.com Fri Nov 27 10:00:00 2026\n${message}`), 'upload')).toBe('eml');
  });
});
