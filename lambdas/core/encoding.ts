import iconv from 'iconv-lite';
import { ResultType, Sniffer } from 'encoding-sniffer/sniffer';

export interface DecodedText {
  text: string;
  encoding: string;
}

const startsWith = (bytes: Uint8Array, prefix: readonly number[]): boolean =>
  prefix.every((byte, index) => bytes[index] === byte);

const BOMS: ReadonlyArray<[string, readonly number[]]> = [
  // UTF-32 first: its little-endian BOM begins with UTF-16LE's.
  ['utf-32le', [0xff, 0xfe, 0x00, 0x00]],
  ['utf-32be', [0x00, 0x00, 0xfe, 0xff]],
  ['utf-8', [0xef, 0xbb, 0xbf]],
  ['utf-16le', [0xff, 0xfe]],
  ['utf-16be', [0xfe, 0xff]],
];

const bomEncoding = (bytes: Uint8Array): string | undefined => BOMS.find(([, bom]) => startsWith(bytes, bom))?.[0];

/**
 * UTF-16 without a BOM (seen in the wild for Windows "Unicode" text files):
 * mostly-Latin text has a zero in every other byte. Decided on the first 4 KB.
 */
const sniffUtf16WithoutBom = (bytes: Uint8Array): string | undefined => {
  const sample = bytes.subarray(0, Math.min(bytes.length, 4096) & ~1);
  if (sample.length < 4) return undefined;
  let evenZeros = 0;
  let oddZeros = 0;
  for (let index = 0; index < sample.length; index += 2) {
    if (sample[index] === 0) evenZeros++;
    if (sample[index + 1] === 0) oddZeros++;
  }
  const pairs = sample.length / 2;
  if (oddZeros > pairs * 0.3 && evenZeros < pairs * 0.05) return 'utf-16le';
  if (evenZeros > pairs * 0.3 && oddZeros < pairs * 0.05) return 'utf-16be';
  return undefined;
};

const isKnownLabel = (label: string): boolean => {
  try {
    new TextDecoder(label);
    return true;
  } catch {
    return false;
  }
};

const decodeWith = (bytes: Uint8Array, encoding: string): string => {
  if (encoding.startsWith('utf-32')) return iconv.decode(Buffer.from(bytes), encoding).replace(/^\uFEFF/, '');
  // TextDecoder strips a matching BOM itself.
  return new TextDecoder(encoding).decode(bytes);
};

export interface DecodeOptions {
  /** Run the HTML `<meta charset>` prescan. */
  html?: boolean;
  /** Charset from a declared content type (`text/html; charset=…`), if any. */
  declaredCharset?: string | undefined;
}

/**
 * Bytes to text: BOM, declared charset, `<meta charset>` (HTML only), UTF-16
 * without BOM, UTF-8 if the bytes are valid UTF-8, otherwise windows-1252 (what
 * browsers assume for unlabelled Western text).
 */
export const decodeText = (bytes: Uint8Array, options: DecodeOptions = {}): DecodedText => {
  const fromBom = bomEncoding(bytes);
  if (fromBom) return { text: decodeWith(bytes, fromBom), encoding: fromBom };

  const declared = options.declaredCharset?.trim();
  if (declared && isKnownLabel(declared)) {
    const encoding = new TextDecoder(declared).encoding;
    return { text: decodeWith(bytes, encoding), encoding };
  }

  if (options.html) {
    const sniffer = new Sniffer({ maxBytes: 1024 });
    sniffer.write(bytes.subarray(0, 1024));
    if (sniffer.resultType !== ResultType.DEFAULT && isKnownLabel(sniffer.encoding)) {
      const encoding = new TextDecoder(sniffer.encoding).encoding;
      return { text: decodeWith(bytes, encoding), encoding };
    }
  }

  const utf16 = sniffUtf16WithoutBom(bytes);
  if (utf16) return { text: decodeWith(bytes, utf16), encoding: utf16 };

  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    return { text: new TextDecoder('windows-1252').decode(bytes), encoding: 'windows-1252' };
  }
};

/** The `charset` parameter of a content type, if present. */
export const charsetOf = (contentType: string | undefined): string | undefined =>
  contentType ? /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType)?.[1] : undefined;
