/**
 * What an image file says of itself before it is decoded: its format and
 * the size it claims (the first page's, for a TIFF). Read from the header
 * bytes only, so that a bomb is refused on its word, never decoded.
 */
export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'tiff';

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

const startsWith = (bytes: Uint8Array, prefix: readonly number[], at = 0): boolean =>
  prefix.every((byte, index) => bytes[at + index] === byte);

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];
const TIFF_LE = [0x49, 0x49, 0x2a, 0x00];
const TIFF_BE = [0x4d, 0x4d, 0x00, 0x2a];
const RIFF = [0x52, 0x49, 0x46, 0x46];
const WEBP = [0x57, 0x45, 0x42, 0x50];

/** The image format from the magic bytes, if any. */
export const imageFormatOf = (bytes: Uint8Array): ImageFormat | undefined => {
  if (startsWith(bytes, PNG)) return 'png';
  if (startsWith(bytes, JPEG)) return 'jpeg';
  if (startsWith(bytes, TIFF_LE) || startsWith(bytes, TIFF_BE)) return 'tiff';
  if (startsWith(bytes, RIFF) && startsWith(bytes, WEBP, 8)) return 'webp';
  return undefined;
};

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

const pngSize = (bytes: Uint8Array) => {
  if (bytes.length < 24 || !startsWith(bytes, [0x49, 0x48, 0x44, 0x52], 12)) return undefined;
  return { width: view(bytes).getUint32(16), height: view(bytes).getUint32(20) };
};

/** The first start-of-frame marker's size (SOF0–SOF15 but DHT, JPG and DAC), walking the segments. */
const jpegSize = (bytes: Uint8Array) => {
  const data = view(bytes);
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1] as number;
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined;
    const length = data.getUint16(at + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: data.getUint16(at + 5), width: data.getUint16(at + 7) };
    }
    at += 2 + length;
  }
  return undefined;
};

const webpSize = (bytes: Uint8Array) => {
  if (bytes.length < 30) return undefined;
  const data = view(bytes);
  const chunk = String.fromCharCode(...bytes.subarray(12, 16));
  if (chunk === 'VP8 ') return { width: data.getUint16(26, true) & 0x3fff, height: data.getUint16(28, true) & 0x3fff };
  if (chunk === 'VP8L') {
    const bits = data.getUint32(21, true);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') {
    const width = 1 + ((bytes[24] as number) | ((bytes[25] as number) << 8) | ((bytes[26] as number) << 16));
    const height = 1 + ((bytes[27] as number) | ((bytes[28] as number) << 8) | ((bytes[29] as number) << 16));
    return { width, height };
  }
  return undefined;
};

/** Width (tag 256) and height (tag 257) of the first image file directory. */
const tiffSize = (bytes: Uint8Array) => {
  if (bytes.length < 8) return undefined;
  const data = view(bytes);
  const little = bytes[0] === 0x49;
  const ifd = data.getUint32(4, little);
  if (ifd + 2 > bytes.length) return undefined;
  const entries = data.getUint16(ifd, little);
  let width: number | undefined;
  let height: number | undefined;
  for (let index = 0; index < entries; index++) {
    const at = ifd + 2 + index * 12;
    if (at + 12 > bytes.length) break;
    const tag = data.getUint16(at, little);
    const type = data.getUint16(at + 2, little);
    const value = type === 3 ? data.getUint16(at + 8, little) : data.getUint32(at + 8, little);
    if (tag === 256) width = value;
    if (tag === 257) height = value;
  }
  return width !== undefined && height !== undefined ? { width, height } : undefined;
};

const SIZE_OF: Record<ImageFormat, (bytes: Uint8Array) => { width: number; height: number } | undefined> = {
  png: pngSize,
  jpeg: jpegSize,
  webp: webpSize,
  tiff: tiffSize,
};

/** The image's format and declared size; undefined when it is no image this reads, or its header is cut short. */
export const imageHeaderOf = (bytes: Uint8Array): ImageHeader | undefined => {
  const format = imageFormatOf(bytes);
  if (!format) return undefined;
  const size = SIZE_OF[format](bytes);
  return size && size.width > 0 && size.height > 0 ? { format, ...size } : undefined;
};
