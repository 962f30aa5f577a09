import { describe, expect, it } from 'vitest';
import type { AppError } from '../../lambdas/errors.js';
import { ZipArchive } from '../../lambdas/documents/loaders/zip.js';
import { OPTION_DEFAULTS } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { readCorpus } from '../support/corpus.js';
import { CONTENT_TYPES_PART as CONTENT_TYPES, documentXml as DOCUMENT_XML, zipOf } from '../../fuzz/hostile.js';

const MB = 1024 * 1024;

/** The end-of-central-directory record: entry counts at +8 and +10, directory offset at +16. */
const eocdOf = (bytes: Buffer): number => bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));

const outcomeOf = async (bytes: Buffer, limits = {}) => {
  const before = process.memoryUsage().rss;
  let code: string | undefined;
  let text: string | undefined;
  try {
    const result = await processDocument({ bytes, filename: 'x.docx' }, OPTION_DEFAULTS, { limits });
    text = result.documents[0]?.page_content;
  } catch (error) {
    code = (error as AppError).code;
  }
  return { code, text, grewMb: (process.memoryUsage().rss - before) / MB };
};

describe('zip-based documents', () => {
  it('reads a real DOCX through the capped reader', async () => {
    expect((await outcomeOf(readCorpus('docx/fake.docx'))).text).toBe('Lorem ipsum dolor sit amet.');
  });

  it('stops a zip bomb from its declared sizes, before inflating anything', async () => {
    const bomb = await zipOf([CONTENT_TYPES, ['word/document.xml', new Uint8Array(64 * MB)]]);
    expect(bomb.length).toBeLessThan(200 * 1024);
    const outcome = await outcomeOf(bomb, { maxZipUncompressedBytes: 8 * MB });
    expect(outcome.code).toBe('DOCUMENT_TOO_LARGE');
    expect(outcome.grewMb).toBeLessThan(32);
  });

  it('stops an entry that inflates past the size it declares, while it inflates', async () => {
    const bytes = await zipOf([CONTENT_TYPES, ['word/document.xml', new Uint8Array(64 * MB)]]);
    // Rewrite every declared size (central directory and local headers) to 1 KB.
    for (let offset = 0; offset < bytes.length - 4; offset++) {
      const signature = bytes.readUInt32LE(offset);
      if (signature === 0x02014b50) bytes.writeUInt32LE(1024, offset + 24);
      if (signature === 0x04034b50) bytes.writeUInt32LE(1024, offset + 22);
    }
    const outcome = await outcomeOf(bytes, { maxZipUncompressedBytes: 8 * MB });
    expect(['DOCUMENT_PARSE_ERROR', 'DOCUMENT_TOO_LARGE']).toContain(outcome.code);
    expect(outcome.grewMb).toBeLessThan(32);
  });

  // The old guard walked as many entries as the directory's record claimed; jszip, inside mammoth, walked them all.
  it.each([
    ['an entry count of 0', (bytes: Buffer, eocd: number) => bytes.fill(0, eocd + 8, eocd + 12)],
    [
      'an entry count below the real one',
      (bytes: Buffer, eocd: number) => {
        bytes.writeUInt16LE(1, eocd + 8);
        bytes.writeUInt16LE(1, eocd + 10);
      },
    ],
    [
      'a moved central directory',
      (bytes: Buffer, eocd: number) => bytes.writeUInt32LE(bytes.readUInt32LE(eocd + 16) - 100, eocd + 16),
    ],
  ])('hides nothing behind %s: the parser sees what the reader checked', async (_name, lie) => {
    const bytes = await zipOf([CONTENT_TYPES, ['word/document.xml', new Uint8Array(64 * MB)]]);
    lie(bytes, eocdOf(bytes));
    const outcome = await outcomeOf(bytes, { maxZipUncompressedBytes: 8 * MB });
    expect(outcome.code).toBe('DOCUMENT_PARSE_ERROR');
    expect(outcome.grewMb).toBeLessThan(32);
  });

  it('refuses two parts with the same name and archives with too many parts', async () => {
    const twice = await zipOf([
      CONTENT_TYPES,
      ['word/document.xml', DOCUMENT_XML('first')],
      ['word/documenX.xml', DOCUMENT_XML('second')],
    ]);
    // Rename the second part to the first one's name, in its local header and in the directory.
    for (let at = twice.indexOf('word/documenX.xml'); at !== -1; at = twice.indexOf('word/documenX.xml')) {
      twice.write('word/document.xml', at);
    }
    expect((await outcomeOf(twice)).code).toBe('DOCUMENT_PARSE_ERROR');

    const crowded = await zipOf([
      CONTENT_TYPES,
      ['word/document.xml', DOCUMENT_XML('x')],
      ...Array.from({ length: 30 }, (_, index): [string, string] => [`word/part${index}.xml`, 'x']),
    ]);
    expect((await outcomeOf(crowded, { maxZipEntries: 20 })).code).toBe('DOCUMENT_TOO_LARGE');
  });

  it('counts what it inflates against the cap, across entries, and reads each entry once', async () => {
    const bytes = await zipOf([
      ['a.bin', new Uint8Array(3 * MB)],
      ['b.bin', new Uint8Array(3 * MB)],
    ]);
    const archive = await ZipArchive.open(bytes, { maxEntries: 10, maxUncompressedBytes: 6 * MB }, 'test');
    expect(archive.names).toEqual(['a.bin', 'b.bin']);
    expect(await archive.read('a.bin')).toBe(await archive.read('a.bin'));
    expect((await archive.read('b.bin')).length).toBe(3 * MB);
    await expect(archive.read('c.bin')).rejects.toMatchObject({ code: 'DOCUMENT_PARSE_ERROR' });
  });
});
