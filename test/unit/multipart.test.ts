import busboy from 'busboy';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../lambdas/errors.js';
import { parseMultipart, type MultipartBody } from '../../lambdas/api/multipart.js';

const LIMITS = { maxParts: 16, maxFiles: 1, maxFieldBytes: 1024, maxFileBytes: 4096, maxHeaderBytes: 8192 };
const TYPE = 'multipart/form-data; boundary=B0undary';
const tooLarge = () => new AppError('PAYLOAD_TOO_LARGE', 'too large');

const parse = (body: string | Buffer, contentType = TYPE) =>
  parseMultipart(Buffer.isBuffer(body) ? body : Buffer.from(body), contentType, LIMITS, tooLarge);

const failureOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return error instanceof AppError
      ? { code: error.code, message: error.message }
      : { code: `thrown ${String(error)}` };
  }
  return undefined;
};

const part = (disposition: string, content: string, extra: string[] = []) =>
  `--B0undary\r\nContent-Disposition: ${disposition}\r\n${extra.map((line) => `${line}\r\n`).join('')}\r\n${content}\r\n`;
const END = '--B0undary--\r\n';

describe('parseMultipart', () => {
  it('reads fields and a file, keeping the part Content-Type with its charset', () => {
    const body = parse(
      `preamble\r\n${part('form-data; name="split"', 'True')}${part('form-data; name="file"; filename="memo.txt"', 'hé\r\n--B0undar', ['Content-Type: text/plain; charset=iso-8859-1'])}${END}epilogue`,
    );
    expect(body.fields).toEqual({ split: 'True' });
    expect(body.files.file?.filename).toBe('memo.txt');
    expect(body.files.file?.contentType).toBe('text/plain; charset=iso-8859-1');
    expect(body.files.file?.content.toString()).toBe('hé\r\n--B0undar');
  });

  it('decodes UTF-8 file names as browsers send them, and RFC 5987 ones', () => {
    expect(parse(`${part('form-data; name="file"; filename="报告.pdf"', 'x')}${END}`).files.file?.filename).toBe(
      '报告.pdf',
    );
    const extended = parse(
      `${part(`form-data; name="file"; filename="fallback.pdf"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf`, 'x')}${END}`,
    );
    expect(extended.files.file?.filename).toBe('报告.pdf');
    expect(
      parse(`${part('form-data; name="file"; filename="a \\"quoted\\" name"', 'x')}${END}`).files.file?.filename,
    ).toBe('a "quoted" name');
  });

  // Each of these ended the process or answered 500 with middy's busboy-based parser.
  it.each([
    [
      'a body without its closing boundary (75 bytes)',
      '--B\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello',
      'multipart/form-data; boundary=B',
    ],
    [
      'a field given twice (`split` and `split`)',
      `${part('form-data; name="split"', 'a')}${part('form-data; name="split"', 'b')}${END}`,
      TYPE,
    ],
    ['no boundary parameter', END, 'multipart/form-data'],
    ['an empty boundary', END, 'multipart/form-data; boundary='],
    ['a boundary longer than 70 characters', END, `multipart/form-data; boundary=${'b'.repeat(71)}`],
    ['a body that does not start with the boundary', `junk${part('form-data; name="a"', 'x')}${END}`, TYPE],
    ['headers that never end', '--B0undary\r\nContent-Disposition: form-data; name="a"\r\n', TYPE],
    ['a part without Content-Disposition', `--B0undary\r\nContent-Type: text/plain\r\n\r\nx\r\n${END}`, TYPE],
    ['a part that is not form-data', `${part('attachment; name="a"', 'x')}${END}`, TYPE],
    ['a part without a name', `${part('form-data; filename="a.txt"', 'x')}${END}`, TYPE],
    ['a header line without a name', `--B0undary\r\n: nothing\r\n\r\nx\r\n${END}`, TYPE],
    ['a parameter given twice', `${part('form-data; name="a"; name="b"', 'x')}${END}`, TYPE],
    ['an unreadable parameter', `${part('form-data; name="a"; ???', 'x')}${END}`, TYPE],
    ['a bad RFC 5987 value', `${part(`form-data; name="file"; filename*=nonsense`, 'x')}${END}`, TYPE],
    ['an undecodable RFC 5987 value', `${part(`form-data; name="file"; filename*=UTF-8''%FF%FE`, 'x')}${END}`, TYPE],
    [
      'a bad part Content-Type',
      `${part('form-data; name="file"; filename="a"', 'x', ['Content-Type: ;;;'])}${END}`,
      TYPE,
    ],
    [
      'a part Content-Type with a control character',
      `${part('form-data; name="file"; filename="a"', 'x', ['Content-Type: text/plain\u0007'])}${END}`,
      TYPE,
    ],
    [
      'two Content-Type headers',
      `${part('form-data; name="file"; filename="a"', 'x', ['Content-Type: text/plain', 'Content-Type: text/html'])}${END}`,
      TYPE,
    ],
    ['a boundary not followed by a line break', `--B0undaryX${END}`, TYPE],
    [
      '17 parts',
      `${Array.from({ length: 17 }, (_, index) => part(`form-data; name="f${index}"`, 'x')).join('')}${END}`,
      TYPE,
    ],
    [
      'two files',
      `${part('form-data; name="file"; filename="a"', 'x')}${part('form-data; name="other"; filename="b"', 'y')}${END}`,
      TYPE,
    ],
    ['a field over 1 KB', `${part('form-data; name="split"', 'x'.repeat(1025))}${END}`, TYPE],
    ['part headers over 8 KB', `${part(`form-data; name="a"; x="${'y'.repeat(9000)}"`, 'x')}${END}`, TYPE],
  ])('answers 400 VALIDATION_ERROR for %s', (_name, body, contentType) => {
    expect(failureOf(() => parse(body, contentType))?.code).toBe('VALIDATION_ERROR');
  });

  it('lets the caller decide what a file over the limit is (413 for uploads)', () => {
    const body = `${part('form-data; name="file"; filename="a"', 'x'.repeat(4097))}${END}`;
    expect(failureOf(() => parse(body))?.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('never throws anything but a typed error, whatever the bytes', () => {
    const valid = Buffer.from(
      `${part('form-data; name="split"', 'true')}${part('form-data; name="file"; filename="a.txt"', 'hello', ['Content-Type: text/plain'])}${END}`,
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(valid.length),
        (flips, cut) => {
          const mutated = Buffer.from(valid.subarray(0, cut));
          for (const [at, byte] of flips) if (at < mutated.length) mutated[at] = byte;
          const failure = failureOf(() => parse(mutated));
          expect(
            failure === undefined || failure.code === 'VALIDATION_ERROR' || failure.code === 'PAYLOAD_TOO_LARGE',
          ).toBe(true);
        },
      ),
      { numRuns: 2000, seed: 9 },
    );
  });

  /** What busboy, the parser middy used, makes of the same body. */
  const busboyParse = (body: Buffer, contentType: string): Promise<MultipartBody> =>
    new Promise((resolve, reject) => {
      const fields: Record<string, string> = {};
      const files: MultipartBody['files'] = {};
      const parser = busboy({ headers: { 'content-type': contentType }, defParamCharset: 'utf8' });
      parser.on('field', (name, value) => (fields[name] = value));
      parser.on('file', (name, stream, info) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          files[name] = { filename: info.filename ?? '', contentType: info.mimeType, content: Buffer.concat(chunks) };
        });
      });
      parser.on('close', () => resolve({ fields, files }));
      parser.on('error', reject);
      parser.end(body);
    });

  it('agrees with busboy on generated bodies', async () => {
    const text = fc.string({
      unit: fc.constantFrom('a', 'b', ' ', '-', '\r', '\n', '"', 'é', '中', '=', ';'),
      maxLength: 40,
    });
    const name = fc.stringMatching(/^[a-z_][a-z0-9_]{0,11}$/);
    const bytes = fc.uint8Array({ maxLength: 300 });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(name, text), { selector: ([key]) => key, maxLength: 6 }),
        // (busboy turns "." and ".." into "": a path rule, not a parsing one)
        fc.option(
          fc.tuple(
            fc.stringMatching(/^[\w .()-]{1,20}$/).filter((file) => !/^\.+$/.test(file)),
            bytes,
          ),
        ),
        fc.stringMatching(/^[0-9A-Za-z'()+_,-./:=?]{1,40}$/),
        async (fieldList, file, boundary) => {
          const parts: Buffer[] = [];
          for (const [key, value] of fieldList) {
            if (key === 'file') continue;
            parts.push(
              Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${key}"\r\n\r\n${value}\r\n`),
            );
          }
          if (file) {
            parts.push(
              Buffer.from(
                `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file[0]}"\r\nContent-Type: application/pdf\r\n\r\n`,
              ),
              Buffer.from(file[1]),
              Buffer.from('\r\n'),
            );
          }
          parts.push(Buffer.from(`--${boundary}--\r\n`));
          const body = Buffer.concat(parts);
          const contentType = `multipart/form-data; boundary="${boundary}"`;
          // A generated value may contain the delimiter itself; both parsers must then agree on what it means.
          let ours: MultipartBody | undefined;
          try {
            ours = parseMultipart(body, contentType, { ...LIMITS, maxFileBytes: 1 << 20 }, tooLarge);
          } catch {
            return;
          }
          const theirs = await busboyParse(body, contentType);
          expect({ ...ours.fields }).toEqual(theirs.fields);
          expect(Object.keys(ours.files)).toEqual(Object.keys(theirs.files));
          for (const [key, value] of Object.entries(ours.files)) {
            expect(value.filename).toBe(theirs.files[key]?.filename);
            expect(value.content.equals(theirs.files[key]!.content)).toBe(true);
          }
        },
      ),
      { numRuns: 300, seed: 2026 },
    );
  });
});
