import { inflateRawSync } from 'node:zlib';
import { AppError } from '../errors.js';

/**
 * Zip-bomb guard for DOCX files, run before mammoth unpacks anything.
 *
 * It walks the central directory and inflates every entry with zlib's
 * `maxOutputLength`, so an entry that lies about its size, or a total above
 * the cap, stops after at most `maxTotal` bytes of output instead of filling
 * memory. Hand-written because neither jszip nor mammoth exposes a bound on
 * the bytes they inflate; inflating a real 480 KB DOCX this way takes a few ms.
 */
const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

const tooLarge = (limit: number) =>
  new AppError(
    'DOCUMENT_TOO_LARGE',
    `The DOCX expands to more than ${Math.round(limit / 1024 / 1024)} MB when unpacked; the limit protects the service from zip bombs.`,
  );

const broken = (why: string) => new AppError('DOCUMENT_PARSE_ERROR', `The DOCX file is damaged (${why}).`);

export const checkZipExpansion = (bytes: Uint8Array, maxTotal: number): void => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const searchFrom = Math.max(0, bytes.length - 22 - 0xffff);
  let eocd = -1;
  for (let offset = bytes.length - 22; offset >= searchFrom; offset--) {
    if (view.getUint32(offset, true) === EOCD_SIGNATURE) {
      eocd = offset;
      break;
    }
  }
  if (eocd < 0) throw broken('no zip directory');
  const entries = view.getUint16(eocd + 10, true);
  let cursor = view.getUint32(eocd + 16, true);
  let remaining = maxTotal;
  for (let index = 0; index < entries; index++) {
    if (cursor + 46 > bytes.length || view.getUint32(cursor, true) !== CENTRAL_SIGNATURE)
      throw broken('bad directory entry');
    const method = view.getUint16(cursor + 10, true);
    const compressedSize = view.getUint32(cursor + 20, true);
    const declaredSize = view.getUint32(cursor + 24, true);
    const nameLength = view.getUint16(cursor + 28, true);
    const extraLength = view.getUint16(cursor + 30, true);
    const commentLength = view.getUint16(cursor + 32, true);
    const localOffset = view.getUint32(cursor + 42, true);
    cursor += 46 + nameLength + extraLength + commentLength;

    if (declaredSize > remaining) throw tooLarge(maxTotal);
    if (localOffset + 30 > bytes.length || view.getUint32(localOffset, true) !== LOCAL_SIGNATURE)
      throw broken('bad entry header');
    const dataStart =
      localOffset + 30 + view.getUint16(localOffset + 26, true) + view.getUint16(localOffset + 28, true);
    const data = bytes.subarray(dataStart, dataStart + compressedSize);
    let actual = data.length;
    if (method === 8) {
      try {
        actual = inflateRawSync(data, { maxOutputLength: Math.max(1, remaining) }).length;
      } catch (error) {
        if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxTotal);
        throw broken('an entry does not decompress');
      }
    } else if (method !== 0) {
      throw broken(`unsupported compression method ${method}`);
    }
    remaining -= actual;
    if (remaining < 0) throw tooLarge(maxTotal);
  }
};
