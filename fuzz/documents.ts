import { deflateRawSync } from 'node:zlib';
import { AppError, ERROR_CATALOGUE } from '../lambdas/errors.js';
import type { ProcessingOptions } from '../lambdas/documents/options.js';
import type { SandboxPool } from '../lambdas/documents/sandbox.js';
import {
  commentStorm,
  deepHtml,
  docxBomb,
  pageSaying,
  pdfBomb,
  pdfWithContents,
  zipOf,
  CONTENT_TYPES_PART,
  documentXml,
} from './hostile.js';
import type { Random } from './random.js';
import { pngOf, scannedPdf, tiffOf } from './scans.js';

/** A 64 × 32 grey image with a dark bar: small enough that OCR of it takes milliseconds. */
const SMALL_IMAGE = {
  width: 64,
  height: 32,
  pixels: Uint8Array.from({ length: 64 * 32 }, (_, index) => (index % 64 > 20 && index % 64 < 40 ? 0 : 255)),
};

/**
 * Documents for the parser boundary: corpus files of every format, mutated
 * (truncated, bit-flipped, spliced, with bytes inserted or cut, zip records
 * and PDF dictionaries rewritten), and generators of nesting and
 * compression. Every case goes through the sandbox, as the worker runs it.
 */
export interface DocumentCase {
  name: string;
  bytes: Uint8Array;
  filename: string;
  contentType?: string | undefined;
  options: ProcessingOptions;
}

/** One seed per format the service reads. */
export const SEED_FILES = [
  'pdf/fake-memo.pdf',
  'pdf/embedded-cmap-cidfont.pdf',
  'pdf/korean-text-with-tables.pdf',
  'docx/fake.docx',
  'zh/zh-memo.docx',
  'html/fake-html-cp1252.html',
  'html/example-with-scripts.html',
  'zh/zh-memo.md',
  'text/fake-text-utf-16-le.txt',
];

const OPTIONS: ProcessingOptions[] = [
  { split: false, chunk_size: 1000, chunk_overlap: 200 },
  { split: true, chunk_size: 200, chunk_overlap: 20 },
  { split: true, chunk_size: 10, chunk_overlap: 9 },
  { split: true, chunk_size: 1, chunk_overlap: 0 },
];

const MUTATORS: Array<[string, (input: Uint8Array, random: Random, other: Uint8Array) => Uint8Array]> = [
  ['truncated', (input, random) => input.subarray(0, random.int(input.length + 1))],
  [
    'bit flips',
    (input, random) => {
      const out = Uint8Array.from(input);
      for (let flips = 1 + random.int(32); flips > 0 && out.length; flips--) {
        const at = random.int(out.length);
        out[at] = (out[at] ?? 0) ^ (1 << random.int(8));
      }
      return out;
    },
  ],
  [
    'bytes inserted',
    (input, random) => {
      const at = random.int(input.length + 1);
      return Buffer.concat([input.subarray(0, at), random.bytes(1 + random.int(64)), input.subarray(at)]);
    },
  ],
  [
    'bytes cut',
    (input, random) => {
      const at = random.int(input.length + 1);
      return Buffer.concat([input.subarray(0, at), input.subarray(Math.min(input.length, at + 1 + random.int(256)))]);
    },
  ],
  [
    'a block repeated',
    (input, random) => {
      const at = random.int(input.length + 1);
      const block = input.subarray(at, at + 1 + random.int(512));
      return Buffer.concat([
        input.subarray(0, at),
        ...Array.from({ length: 2 + random.int(64) }, () => block),
        input.subarray(at),
      ]);
    },
  ],
  [
    'spliced with another seed',
    (input, random, other) =>
      Buffer.concat([input.subarray(0, random.int(input.length + 1)), other.subarray(random.int(other.length + 1))]),
  ],
  [
    'zip records rewritten',
    (input, random) => {
      const out = Buffer.from(input);
      const signatures = [0x04034b50, 0x02014b50, 0x06054b50];
      for (let at = 0; at + 4 <= out.length; at++) {
        if (signatures.includes(out.readUInt32LE(at)) && random.chance(0.5)) {
          const field = at + 4 + random.int(24);
          if (field + 4 <= out.length)
            out.writeUInt32LE(random.pick([0, 1, 0xffff, 0xffffffff, random.int(2 ** 32)]), field);
        }
      }
      return out;
    },
  ],
  [
    'PDF dictionary values rewritten',
    (input, random) =>
      Buffer.from(
        Buffer.from(input)
          .toString('latin1')
          .replace(/\/(Length|Count|Size|First|N|Columns|Predictor|BitsPerComponent) (\d+)/g, (whole, key: string) =>
            random.chance(0.3)
              ? `/${key} ${random.pick(['0', '-1', '99999999', '2147483648', String(random.int(1e6))])}`
              : whole,
          ),
        'latin1',
      ),
  ],
];

/** Generated documents: deep nesting, compression, repetition, at random sizes. */
const GENERATORS: Array<[string, (random: Random) => Uint8Array | Promise<Uint8Array>, string]> = [
  [
    'nested HTML',
    (random) => deepHtml(random.int(5_000), random.pick(['div', 'b', 'table', 'p', 'li', 'svg', 'form'])),
    'x.html',
  ],
  ['comments before markup', (random) => commentStorm(random.int(20_000)), 'x.html'],
  ['a PDF stream that inflates', (random) => pdfBomb(1 + random.int(96)), 'x.pdf'],
  [
    'many small PDF pages',
    (random) => pdfWithContents(Array.from({ length: 1 + random.int(80) }, (_, page) => pageSaying(`page ${page}`))),
    'x.pdf',
  ],
  ['a DOCX part that inflates', (random) => docxBomb(1 + random.int(400)), 'x.docx'],
  [
    'a DOCX with nested XML',
    (random) => {
      const depth = random.int(20_000);
      return zipOf([
        CONTENT_TYPES_PART,
        [
          'word/document.xml',
          documentXml('x').replace('<w:t>x</w:t>', `${'<w:t>'.repeat(depth)}x${'</w:t>'.repeat(depth)}`),
        ],
      ]);
    },
    'x.docx',
  ],
  [
    'a zip of many entries',
    (random) =>
      zipOf([
        CONTENT_TYPES_PART,
        ['word/document.xml', documentXml('x')],
        ...Array.from({ length: random.int(12_000) }, (_, index): [string, string] => [`word/p${index}.xml`, '']),
      ]),
    'x.docx',
  ],
  [
    'an image whose header claims a random size',
    (random) => pngOf(SMALL_IMAGE, { width: 1 + random.int(200_000), height: 1 + random.int(200_000) }),
    'x.png',
  ],
  [
    'a small image, bit-flipped',
    (random) => {
      const bytes = random.pick([pngOf, (image: typeof SMALL_IMAGE) => tiffOf([image, image])])(SMALL_IMAGE);
      for (let flips = 1 + random.int(16); flips > 0; flips--) {
        const at = random.int(bytes.length);
        bytes[at] = (bytes[at] ?? 0) ^ (1 << random.int(8));
      }
      return bytes;
    },
    'x.png',
  ],
  [
    'a scanned page of noise',
    (random) => scannedPdf([{ ...SMALL_IMAGE, pixels: Uint8Array.from(SMALL_IMAGE.pixels, () => random.int(256)) }]),
    'x.pdf',
  ],
  ['text without separators', (random) => Buffer.alloc(random.int(8_000_000), 'x'), 'x.txt'],
  ['raw deflate posing as text', (random) => deflateRawSync(Buffer.alloc(1 + random.int(1_000_000))), 'x.txt'],
];

export const documentCase = async (
  random: Random,
  seeds: ReadonlyMap<string, Uint8Array>,
  index: number,
): Promise<DocumentCase> => {
  const options = random.pick(OPTIONS);
  if (index % 5 === 4) {
    const [name, generate, filename] = random.pick(GENERATORS);
    return { name: `generated: ${name}`, bytes: await generate(random), filename, options };
  }
  const files = [...seeds.keys()];
  const seed = random.pick(files);
  const other = seeds.get(random.pick(files))!;
  const [mutation, mutate] = random.pick(MUTATORS);
  const bytes = mutate(seeds.get(seed)!, random, other);
  return { name: `${seed}, ${mutation}`, bytes, filename: seed.split('/').pop()!, options };
};

export type DocumentVerdict = { ok: true; outcome: string } | { ok: false; problem: string };

/** A result, or a failure with a code from the catalogue: anything else (an untyped error, a hang past the deadline) is a finding. */
export const runDocumentCase = async (
  sandbox: SandboxPool,
  input: DocumentCase,
  deadlineMs: number,
): Promise<DocumentVerdict> => {
  try {
    const { headline, json } = await sandbox.process(
      { bytes: input.bytes, filename: input.filename, contentType: input.contentType },
      input.options,
      { deadline: Date.now() + deadlineMs },
    );
    const parsed = JSON.parse(new TextDecoder().decode(json)) as { documents: unknown[]; document_count: number };
    if (parsed.documents.length !== headline.document_count || parsed.document_count !== headline.document_count) {
      return { ok: false, problem: 'the result JSON disagrees with its headline' };
    }
    return { ok: true, outcome: `SUCCESS ${headline.format}` };
  } catch (error) {
    if (error instanceof AppError && error.code in ERROR_CATALOGUE) return { ok: true, outcome: error.code };
    return { ok: false, problem: `untyped failure: ${String((error as Error)?.stack ?? error)}` };
  }
};
