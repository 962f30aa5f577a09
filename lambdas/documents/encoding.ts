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

/**
 * UTF-32, which TextDecoder does not offer (the Encoding Standard leaves it
 * out). Written here rather than importing iconv-lite, whose code-page tables
 * added 476 KB to the worker bundle for this one case.
 */
const decodeUtf32 = (bytes: Uint8Array, littleEndian: boolean): string => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: string[] = [];
  for (let offset = 0; offset + 4 <= bytes.length; offset += 4) {
    const code = view.getUint32(offset, littleEndian);
    parts.push(code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : '\uFFFD');
  }
  return parts.join('').replace(/^\uFEFF/, '');
};

const decodeWith = (bytes: Uint8Array, encoding: string): string => {
  if (encoding === 'utf-32le' || encoding === 'utf-32be') return decodeUtf32(bytes, encoding === 'utf-32le');
  // TextDecoder strips a matching BOM itself.
  return new TextDecoder(encoding).decode(bytes);
};

/**
 * The charset a page declares in its first 1024 bytes, as `<meta charset>` or
 * `<meta http-equiv="Content-Type" content="…; charset=…">`. A reduced form of
 * the WHATWG prescan: the library that implements it in full (encoding-sniffer)
 * pulls in iconv-lite's code-page tables, 476 KB of the worker bundle.
 */
export const metaCharset = (bytes: Uint8Array): string | undefined => {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 1024))
    .toString('latin1')
    .replace(/<!--[\s\S]*?-->/g, '');
  for (const [tag] of head.matchAll(/<meta\b[^>]*>/gi)) {
    const label = /charset\s*=\s*["']?\s*([\w.:-]+)/i.exec(tag)?.[1];
    if (label && isKnownLabel(label)) return label;
  }
  return undefined;
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

  const fromMeta = options.html ? metaCharset(bytes) : undefined;
  if (fromMeta) {
    const encoding = new TextDecoder(fromMeta).encoding;
    // A page that claims UTF-16 in an ASCII-readable meta tag is not UTF-16 (WHATWG rule).
    const effective = encoding.startsWith('utf-16') ? 'utf-8' : encoding;
    return { text: decodeWith(bytes, effective), encoding: effective };
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
