import { describe, expect, it } from 'vitest';
import { detectFormat } from '../../lambdas/documents/detect.js';
import { AppError } from '../../lambdas/errors.js';
import { DEFAULT_LIMITS, type ProcessingLimits } from '../../lambdas/documents/limits.js';
import {
  countMimeParts,
  loadEml,
  MAX_ATTACHMENTS,
  MAX_MESSAGE_DEPTH,
  MAX_MIME_NESTING,
  MAX_MIME_PARTS,
} from '../../lambdas/documents/loaders/eml.js';
import type { LoadInput } from '../../lambdas/documents/loaders/types.js';
import { OPTION_DEFAULTS } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { docxBomb } from '../../fuzz/hostile.js';
import { readCorpus } from '../support/corpus.js';
import { withHeapWatch } from '../support/office-files.js';
import { sharedStringBombXlsx } from '../support/xlsx.js';

const MB = 1024 * 1024;
const CRLF = '\r\n';

/** Bytes as base64 in 76-character lines, as mail carries them. */
const base64 = (bytes: Uint8Array | string): string =>
  Buffer.from(bytes).toString('base64').replace(/.{76}/g, `$&${CRLF}`);

/** Header lines, an empty line, the body (strings as single bytes, so that 8-bit charsets stay as written). */
const part = (headers: string[], body: Uint8Array | string): Buffer =>
  Buffer.concat([
    Buffer.from(headers.join(CRLF) + CRLF + CRLF, 'latin1'),
    typeof body === 'string' ? Buffer.from(body, 'latin1') : body,
  ]);

/** A multipart body: each part after its delimiter line, then the closing delimiter. */
const multipart = (boundary: string, parts: Buffer[]): Buffer =>
  Buffer.concat([
    ...parts.flatMap((each) => [Buffer.from(`--${boundary}${CRLF}`), each, Buffer.from(CRLF)]),
    Buffer.from(`--${boundary}--${CRLF}`),
  ]);

const HEADERS = [
  'From: =?ISO-8859-1?Q?Andr=E9_Dupont?= <andre@example.com>',
  'To: Bob Martin <bob@example.com>, carol@example.com',
  'Subject: =?UTF-8?B?w5xiZXIgZGllIEJyw7xja2Ug4oCUIOKCrDEw?=',
  'Date: Tue, 3 Mar 2026 10:15:00 +0100',
  'Message-ID: <1@example.com>',
  'MIME-Version: 1.0',
];

const message = (contentType: string, body: Buffer | string, headers = HEADERS): Buffer =>
  part([...headers, `Content-Type: ${contentType}`], body);

let boundaries = 0;

/** A multipart/mixed message, with a boundary of its own: a message inside it must not end its parts. */
const mixed = (parts: Buffer[], headers = HEADERS): Buffer => {
  const boundary = `mixed-${++boundaries}`;
  return message(`multipart/mixed; boundary="${boundary}"`, multipart(boundary, parts), headers);
};

const plain = (text: string) => part(['Content-Type: text/plain; charset=UTF-8'], text);

const attachment = (name: string, type: string, bytes: Uint8Array | string) =>
  part(
    [
      `Content-Type: ${type}; name="${name}"`,
      `Content-Disposition: attachment; filename="${name}"`,
      'Content-Transfer-Encoding: base64',
    ],
    base64(bytes),
  );

const forwarded = (name: string, inner: Buffer) =>
  part([`Content-Type: message/rfc822; name="${name}"`, `Content-Disposition: attachment; filename="${name}"`], inner);

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);

const inputOf = (bytes: Uint8Array, overrides: Partial<LoadInput> = {}, limits: Partial<ProcessingLimits> = {}) => ({
  bytes,
  filename: 'mail.eml',
  source: 'mail.eml',
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

describe('EML detection', () => {
  const mail = message('text/plain; charset=UTF-8', 'Hello.');

  it('knows a message by its header block, whatever its name or declared type', () => {
    expect(detectFormat(mail, 'upload')).toBe('eml');
    expect(detectFormat(mail, 'notes.txt', 'text/plain')).toBe('eml');
    const folded = Buffer.from(
      'Received: from a\r\n\tby b; Tue, 3 Mar 2026\r\nReturn-Path: <x@y>\r\nX-Other: 1\r\n\r\nbody',
    );
    expect(detectFormat(folded, 'upload')).toBe('eml');
  });

  it('knows it by its name or type when the header block is not typical', () => {
    const unusual = Buffer.from('Subject: only one field\n\nbody');
    expect(detectFormat(unusual, 'mail.eml')).toBe('eml');
    expect(detectFormat(unusual, 'upload', 'message/rfc822')).toBe('eml');
  });

  it.each([
    ['one line of "Subject:" then text', 'Subject: the quarterly plan\n\nWe will ship in May.\n'],
    ['header-like lines running into prose', 'From: the desk of the editor\nTo: all staff\nPlease read this.\n\nx'],
    ['fields with no empty line after them', 'From: a@example.com\nTo: b@example.com\n'],
    ['a folded line first', ' From: a@example.com\nTo: b@example.com\n\nx'],
    ['a line with no colon', 'Subject: x\nDate: today\nnot a header\n\nx'],
  ])('leaves ordinary text as text: %s', (_name, text) => {
    expect(detectFormat(Buffer.from(text), 'notes.txt')).toBe('text');
    expect(detectFormat(Buffer.from(text), 'upload')).toBe('text');
  });
});

describe('EML', () => {
  it('reads the body once, plain text over HTML, with subject, from, to and date decoded', async () => {
    const alternative = message(
      'multipart/alternative; boundary="alt"',
      multipart('alt', [
        plain('The plain body.\r\nSecond line.'),
        part(['Content-Type: text/html; charset=UTF-8'], '<p>The <b>HTML</b> body.</p>'),
      ]),
    );
    const { documents } = await loadEml(inputOf(alternative));
    expect(documents).toEqual([
      {
        page_content: 'The plain body.\nSecond line.',
        metadata: {
          source: 'mail.eml',
          filename: 'mail.eml',
          subject: 'Über die Brücke — €10',
          from: 'André Dupont <andre@example.com>',
          to: 'Bob Martin <bob@example.com>, carol@example.com',
          date: '2026-03-03T09:15:00.000Z',
        },
      },
    ]);
  });

  it('reads an HTML-only body through the HTML reading, as text or Markdown', async () => {
    const html = message(
      'text/html; charset=UTF-8',
      '<html><head><style>p{}</style></head><body><h1>Agenda</h1><ul><li>one</li><li>two</li></ul><script>x()</script></body></html>',
    );
    expect((await loadEml(inputOf(html))).documents[0]?.page_content).toBe('Agenda\n\none\ntwo');
    expect((await loadEml(inputOf(html, { outputFormat: 'markdown' }))).documents[0]?.page_content).toBe(
      '# Agenda\n\n- one\n- two',
    );
  });

  it.each([
    [
      'quoted-printable ISO-8859-1',
      ['Content-Type: text/plain; charset=ISO-8859-1', 'Content-Transfer-Encoding: quoted-printable'],
      'Caf=E9 cr=E8me, d=E9j=E0 vu, na=EFve gar=E7on, une tr=\r\n=E8s longue ligne.',
      'Café crème, déjà vu, naïve garçon, une très longue ligne.',
    ],
    [
      '8-bit Windows-1252',
      ['Content-Type: text/plain; charset=windows-1252', 'Content-Transfer-Encoding: 8bit'],
      Buffer.from([0x80, 0x35, 0x20, 0x93, 0x71, 0x75, 0x6f, 0x74, 0x65, 0x94, 0x20, 0x97, 0x20, 0xe9, 0x74, 0xe9]),
      '€5 “quote” — été',
    ],
    [
      'base64 UTF-8',
      ['Content-Type: text/plain; charset=UTF-8', 'Content-Transfer-Encoding: base64'],
      base64('Grüße aus Köln — 日本語 🙂'),
      'Grüße aus Köln — 日本語 🙂',
    ],
  ])('decodes a %s body', async (_name, headers, body, expected) => {
    const mail = part([...HEADERS.slice(0, 4), 'MIME-Version: 1.0', ...headers], body);
    expect((await loadEml(inputOf(mail))).documents[0]?.page_content).toBe(expected);
  });

  it('keeps a date it cannot parse as written, and leaves out headers the message lacks', async () => {
    const mail = part(
      [
        'From: a@example.com',
        'To: "Martin, Bob" <bob@example.com>, Team: c@example.com, d@example.com;',
        'Date: sometime next week',
        'Subject: x',
      ],
      'Body.',
    );
    expect((await loadEml(inputOf(mail))).documents[0]?.metadata).toEqual({
      source: 'mail.eml',
      filename: 'mail.eml',
      from: 'a@example.com',
      to: '"Martin, Bob" <bob@example.com>, c@example.com, d@example.com',
      subject: 'x',
      date: 'sometime next week',
    });
  });

  it('reads each attachment with its own loader, skipping images, and names it in the metadata', async () => {
    const inner = mixed(
      [plain('The forwarded message.'), attachment('inner.txt', 'text/plain', 'Text inside the forwarded message.')],
      ['From: zoe@example.com', 'Subject: Inner', 'Date: Mon, 2 Mar 2026 08:00:00 +0000', 'MIME-Version: 1.0'],
    );
    const mail = mixed([
      plain('See the attached files.'),
      attachment(
        'fake.docx',
        'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        readCorpus('docx/fake.docx'),
      ),
      attachment('memo.pdf', 'application/octet-stream', readCorpus('pdf/fake-memo.pdf')),
      attachment('notes.txt', 'text/plain', 'Plain notes.'),
      attachment('logo.png', 'image/png', PNG),
      part(['Content-Type: image/gif', 'Content-ID: <logo@x>', 'Content-Disposition: inline'], 'GIF89a'),
      forwarded('forward.eml', inner),
    ]);
    const result = await processDocument({ bytes: mail, filename: 'mail.eml' }, OPTION_DEFAULTS);
    expect(result.format).toBe('eml');
    expect(result.warnings).toEqual([]);
    const rows = result.documents.map((doc) => [doc.metadata.attachment ?? null, doc.page_content.slice(0, 40)]);
    expect(rows).toEqual([
      [null, 'See the attached files.'],
      ['fake.docx', 'Lorem ipsum dolor sit amet.'],
      ...result.documents
        .filter((doc) => doc.metadata.attachment === 'memo.pdf')
        .map((doc) => ['memo.pdf', doc.page_content.slice(0, 40)]),
      ['notes.txt', 'Plain notes.'],
      ['forward.eml', 'The forwarded message.'],
      ['forward.eml/inner.txt', 'Text inside the forwarded message.'],
    ]);
    const memo = result.documents.find((doc) => doc.metadata.attachment === 'memo.pdf');
    expect(memo?.page_content.length).toBeGreaterThan(100);
    // The loader's own metadata (a PDF's pages), the mail's, and where the attachment sits.
    expect(memo?.metadata).toMatchObject({
      page: 1,
      filename: 'mail.eml',
      source: 'mail.eml',
      subject: 'Über die Brücke — €10',
    });
    const nested = result.documents.find((doc) => doc.metadata.attachment === 'forward.eml');
    expect(nested?.metadata).toMatchObject({
      subject: 'Inner',
      from: 'zoe@example.com',
      date: '2026-03-02T08:00:00.000Z',
    });
    expect(result.documents.find((doc) => doc.metadata.attachment === 'forward.eml/inner.txt')?.metadata).toMatchObject(
      { subject: 'Inner', encoding: 'utf-8' },
    );
  });

  it('skips an attachment it cannot read with a warning, and reads the rest of the mail', async () => {
    const mail = mixed([
      plain('Body.'),
      attachment('archive.zip', 'application/zip', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0])),
      attachment(
        'broken.docx',
        'application/octet-stream',
        Buffer.from([0x50, 0x4b, 0x03, 0x04, ...Buffer.from('word/document.xml')]),
      ),
      attachment('after.txt', 'text/plain', 'After them.'),
    ]);
    const result = await processDocument({ bytes: mail, filename: 'mail.eml' }, OPTION_DEFAULTS);
    expect(result.documents.map((doc) => doc.page_content)).toEqual(['Body.', 'After them.']);
    expect(result.warnings.map((warning) => warning.code)).toEqual(['ATTACHMENT_SKIPPED', 'ATTACHMENT_SKIPPED']);
    expect(result.warnings[0]?.message).toMatch(/"archive\.zip".*ZIP archive/);
    expect(result.warnings[1]?.message).toMatch(/"broken\.docx".*damaged/);
  });

  it('stops on a time limit or a cancellation met inside an attachment, rather than skipping it', async () => {
    const mail = mixed([plain('Body.'), attachment('page.html', 'text/html', '<p>Attached page.</p>')]);
    // The third checkpoint is the HTML loader's, inside the attachment.
    const failingFrom = (call: number, error: () => Error, signal?: AbortSignal) => {
      let calls = 0;
      return inputOf(mail, {
        signal,
        checkpoint: async () => {
          if (++calls >= call) throw error();
        },
      });
    };
    const soft = failingFrom(3, () => new AppError('SOFT_TIME_LIMIT', 'Out of time.'));
    expect(await codeOf(loadEml(soft))).toBe('SOFT_TIME_LIMIT');
    const controller = new AbortController();
    controller.abort();
    const stopped = failingFrom(3, () => new Error('stopped'), controller.signal);
    await expect(loadEml(stopped)).rejects.toThrow('stopped');
    expect((await loadEml(failingFrom(99, () => new Error('never')))).documents).toHaveLength(2);
  });

  it(`reads messages inside messages ${MAX_MESSAGE_DEPTH} levels deep, and skips deeper ones with a warning`, async () => {
    let mail = message('text/plain', 'Level 5.', ['Subject: level 5']);
    for (let level = 4; level >= 0; level--) {
      mail = mixed(
        [plain(`Level ${level}.`), forwarded(`level${level + 1}.eml`, mail)],
        [`Subject: level ${level}`, 'MIME-Version: 1.0'],
      );
    }
    const { documents, warnings } = await loadEml(inputOf(mail));
    expect(documents.map((doc) => doc.page_content)).toEqual(['Level 0.', 'Level 1.', 'Level 2.', 'Level 3.']);
    expect(documents[3]?.metadata.attachment).toBe('level1.eml/level2.eml/level3.eml');
    expect(warnings).toEqual([
      { code: 'ATTACHMENT_SKIPPED', message: expect.stringContaining('"level1.eml/level2.eml/level3.eml/level4.eml"') },
    ]);
  });

  it(`reads ${MAX_ATTACHMENTS} attachments and skips the rest with one warning`, async () => {
    const files = Array.from({ length: MAX_ATTACHMENTS + 5 }, (_, index) =>
      attachment(`file${index + 1}.txt`, 'text/plain', `File ${index + 1}.`),
    );
    const { documents, warnings } = await loadEml(inputOf(mixed([plain('Body.'), ...files])));
    expect(documents).toHaveLength(1 + MAX_ATTACHMENTS);
    expect(documents.at(-1)?.page_content).toBe(`File ${MAX_ATTACHMENTS}.`);
    expect(warnings).toEqual([
      { code: 'ATTACHMENT_SKIPPED', message: expect.stringContaining(`"file${MAX_ATTACHMENTS + 1}.txt"`) },
    ]);
  });

  it("skips an attachment past its loader's cap (a zip bomb), and refuses a mail past the text size", async () => {
    const bomb = await docxBomb(64);
    expect(bomb.length).toBeLessThan(200 * 1024);
    const mail = mixed([
      plain('Body.'),
      attachment('bomb.docx', 'application/octet-stream', bomb),
      attachment('small.txt', 'text/plain', 'Small.'),
    ]);
    const capped = await loadEml(inputOf(mail, {}, { maxZipUncompressedBytes: 8 * MB }));
    expect(capped.documents.map((doc) => doc.page_content)).toEqual(['Body.', 'Small.']);
    expect(capped.warnings?.[0]?.message).toMatch(/"bomb\.docx".*zip bombs/);
    expect(await codeOf(loadEml(inputOf(mail, {}, { maxTextBytes: 16 * 1024 })))).toBe('DOCUMENT_TOO_LARGE');
  });

  it('skips attachments past the decoded total', async () => {
    // 1 MB decoded at the top, the forwarded message's bytes (1.4 MB) and its own 1 MB: 3.4 MB, over a 3 MB total.
    const oneMb = 'y'.repeat(MB);
    const inner = mixed(
      [plain('Inner.'), attachment('inner.txt', 'text/plain', oneMb)],
      ['Subject: inner', 'MIME-Version: 1.0'],
    );
    const mail = mixed([plain('Outer.'), attachment('outer.txt', 'text/plain', oneMb), forwarded('fwd.eml', inner)]);
    expect(mail.length).toBeLessThan(3 * MB);
    const total = await loadEml(inputOf(mail, {}, { maxInputBytes: 3 * MB }));
    expect(total.documents.map((doc) => doc.metadata.attachment ?? null)).toEqual([null, 'outer.txt', 'fwd.eml']);
    expect(total.warnings).toEqual([
      {
        code: 'ATTACHMENT_SKIPPED',
        message: expect.stringMatching(/"fwd\.eml\/inner\.txt".*add up to more than 3 MB/),
      },
    ]);
  });

  const nestedMultiparts = (depth: number): Buffer => {
    let body = 'leaf';
    for (let level = depth; level > 0; level--) {
      const type = level === depth ? 'text/plain' : `multipart/mixed; boundary="b${level + 1}"`;
      body = `--b${level}${CRLF}Content-Type: ${type}${CRLF}${CRLF}${body}${CRLF}--b${level}--`;
    }
    return message('multipart/mixed; boundary="b1"', body);
  };

  it(`fails typed on multiparts nested more than ${MAX_MIME_NESTING} deep, and on a MIME bomb nested 10,000 deep`, async () => {
    expect((await loadEml(inputOf(nestedMultiparts(MAX_MIME_NESTING - 2)))).documents[0]?.page_content).toBe('leaf');
    expect(await codeOf(loadEml(inputOf(nestedMultiparts(MAX_MIME_NESTING + 1))))).toBe('DOCUMENT_PARSE_ERROR');
    expect(await codeOf(loadEml(inputOf(nestedMultiparts(10_000))))).toBe('DOCUMENT_PARSE_ERROR');
    // Past the cap on parts, counted before parsing: refused before postal-mime sees it.
    expect(await codeOf(loadEml(inputOf(nestedMultiparts(MAX_MIME_PARTS + 10))))).toBe('DOCUMENT_TOO_LARGE');
  });

  it(`fails typed before parsing a message of more than ${MAX_MIME_PARTS} parts`, async () => {
    const wide = message(
      'multipart/mixed; boundary="w"',
      `--w${CRLF}${CRLF}x${CRLF}`.repeat(MAX_MIME_PARTS + 1) + '--w--',
    );
    expect(countMimeParts(wide)).toBe(MAX_MIME_PARTS + 1);
    const before = process.memoryUsage().rss;
    expect(await codeOf(processDocument({ bytes: wide, filename: 'wide.eml' }, OPTION_DEFAULTS))).toBe(
      'DOCUMENT_TOO_LARGE',
    );
    expect((process.memoryUsage().rss - before) / MB).toBeLessThan(32);
    // Lines that merely start with "--" are not parts.
    const text = message('multipart/mixed; boundary="w"', multipart('w', [plain('-- \r\n--note\r\n--w-not\r\n')]));
    expect(countMimeParts(text)).toBe(1);
  });

  it('reads what it can of malformed boundaries, without failing', async () => {
    const unterminated = message(
      'multipart/mixed; boundary="open"',
      `--open${CRLF}Content-Type: text/plain${CRLF}${CRLF}Never closed.${CRLF}`,
    );
    expect((await loadEml(inputOf(unterminated))).documents[0]?.page_content).toBe('Never closed.');
    const missing = message(
      'multipart/mixed; boundary="absent"',
      `--other${CRLF}Content-Type: text/plain${CRLF}${CRLF}Lost.${CRLF}`,
    );
    const result = await processDocument({ bytes: missing, filename: 'mail.eml' }, OPTION_DEFAULTS);
    expect(result.format).toBe('eml');
    expect(result.warnings.map((warning) => warning.code)).toEqual(['NO_TEXT']);
    const noBoundary = message('multipart/mixed', `--x${CRLF}${CRLF}Text.${CRLF}--x--`);
    expect(await codeOf(loadEml(inputOf(noBoundary)))).toBeUndefined();
  });

  it('splits through processDocument, chunks keeping the mail headers', async () => {
    const paragraphs = Array.from({ length: 20 }, (_, index) => `Paragraph ${index + 1} of the long mail body.`).join(
      '\r\n\r\n',
    );
    const result = await processDocument(
      { bytes: message('text/plain; charset=UTF-8', paragraphs), filename: 'long.eml' },
      { ...OPTION_DEFAULTS, split: true, chunk_size: 100, chunk_overlap: 0 },
    );
    expect(result.format).toBe('eml');
    expect(result.documents.length).toBeGreaterThan(5);
    for (const chunk of result.documents) {
      expect(chunk.metadata).toMatchObject({ subject: 'Über die Brücke — €10', chunk_index: expect.any(Number) });
    }
  });
});

describe('EML output budget', () => {
  it('skips attachments that would make too much text (20 spreadsheet bombs), keeping the body, before the text is built', async () => {
    const bomb = await sharedStringBombXlsx();
    const mail = mixed([
      plain('See the workbooks.'),
      ...Array.from({ length: 20 }, (_, index) =>
        attachment(`book${index}.xlsx`, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', bomb),
      ),
    ]);
    const { result, growth } = await withHeapWatch((checkpoint) => loadEml(inputOf(mail, { checkpoint })));
    expect(result).not.toBeInstanceOf(Error);
    const { documents, warnings } = result as Awaited<ReturnType<typeof loadEml>>;
    expect(documents.map((document) => document.page_content)).toEqual(['See the workbooks.']);
    expect(warnings).toHaveLength(20);
    for (const warning of warnings ?? []) {
      expect(warning.code).toBe('ATTACHMENT_SKIPPED');
      expect(warning.message).toMatch(/maxOutputCharacters/);
    }
    expect(growth).toBeLessThan(100 * MB);
  });

  it('bounds the text of all attachments together by one budget', async () => {
    const text = 'y'.repeat(1000);
    const mail = mixed([
      plain('Body.'),
      ...Array.from({ length: 5 }, (_, index) => attachment(`note${index}.txt`, 'text/plain', text)),
    ]);
    // The body (5) and two attachments (2 × 1000) fit in 2500 characters; the other three are skipped.
    const { documents, warnings } = await loadEml(inputOf(mail, {}, { maxOutputCharacters: 2500 }));
    expect(documents.map((document) => document.page_content.length)).toEqual([5, 1000, 1000]);
    expect(warnings?.map((warning) => warning.code)).toEqual([
      'ATTACHMENT_SKIPPED',
      'ATTACHMENT_SKIPPED',
      'ATTACHMENT_SKIPPED',
    ]);
    // The whole e-mail fails only when its own body is past the budget.
    expect(await codeOf(loadEml(inputOf(mail, {}, { maxOutputCharacters: 4 })))).toBe('DOCUMENT_TOO_LARGE');
  });
});
