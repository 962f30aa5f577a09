import { deflateSync } from 'node:zlib';
import JSZip from 'jszip';

/**
 * Generators of hostile documents, shared by the limit tests, the fuzz
 * harness and the bench: each is small on the wire and expensive to read
 * when a parser has no bound.
 */

/** A PDF of these objects (numbered from 1, the first the catalog), with its cross-reference table. */
export const pdfOf = (objects: readonly Buffer[]): Buffer => {
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n')];
  const offsets: number[] = [];
  let length = parts[0]!.length;
  objects.forEach((object, index) => {
    offsets.push(length);
    const part = Buffer.concat([Buffer.from(`${index + 1} 0 obj\n`), object, Buffer.from('\nendobj\n')]);
    parts.push(part);
    length += part.length;
  });
  const xref = [
    `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`,
    ...offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`),
    `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`,
  ].join('');
  return Buffer.concat([...parts, Buffer.from(xref)]);
};

/** A PDF with one page per content stream given (deflated). */
export const pdfWithContents = (contents: Buffer[]): Buffer => {
  const objects: Buffer[] = [];
  const pageIds = contents.map((_, index) => 4 + index * 2);
  objects.push(Buffer.from('<< /Type /Catalog /Pages 2 0 R >>'));
  objects.push(
    Buffer.from(`<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${contents.length} >>`),
  );
  objects.push(Buffer.from('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>'));
  contents.forEach((content, index) => {
    const streamId = pageIds[index]! + 1;
    objects.push(
      Buffer.from(
        `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${streamId} 0 R /Resources << /Font << /F1 3 0 R >> >> >>`,
      ),
    );
    const deflated = deflateSync(content, { level: 9 });
    objects.push(
      Buffer.concat([
        Buffer.from(`<< /Length ${deflated.length} /Filter /FlateDecode >>\nstream\n`),
        deflated,
        Buffer.from('\nendstream'),
      ]),
    );
  });
  return pdfOf(objects);
};

/** A page that says `text`. */
export const pageSaying = (text: string): Buffer => Buffer.from(`BT /F1 12 Tf 72 712 Td (${text}) Tj ET\n`);

/** A PDF whose single content stream inflates to `megabytes` of spaces after a line of text. */
export const pdfBomb = (megabytes: number): Buffer =>
  pdfWithContents([Buffer.concat([pageSaying('Hello'), Buffer.alloc(megabytes * 1024 * 1024, ' ')])]);

/** A zip of the given parts, deflated at the highest level. */
export const zipOf = async (parts: Array<[string, string | Uint8Array]>): Promise<Buffer> => {
  const zip = new JSZip();
  for (const [name, content] of parts) zip.file(name, content);
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE', compressionOptions: { level: 9 } });
};

export const CONTENT_TYPES_PART: [string, string] = [
  '[Content_Types].xml',
  '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
];

/** A DOCX body with one paragraph per text. */
export const documentXml = (...paragraphs: string[]) =>
  `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${paragraphs
    .map((text) => `<w:p><w:r><w:t>${text}</w:t></w:r></w:p>`)
    .join('')}</w:body></w:document>`;

/** A DOCX whose document part inflates to `megabytes` of zeros. */
export const docxBomb = (megabytes: number) =>
  zipOf([CONTENT_TYPES_PART, ['word/document.xml', new Uint8Array(megabytes * 1024 * 1024)]]);

/** HTML nested `depth` levels deep with `tag`. */
export const deepHtml = (depth: number, tag = 'div') =>
  Buffer.from(`<!doctype html><html><body>${`<${tag}>`.repeat(depth)}x`);

/** Comments before markup: the shape that made format detection backtrack exponentially. */
export const commentStorm = (count: number) => Buffer.from(`${'<!---->'.repeat(count)}x`);

/** Helvetica whose ToUnicode map sends every printable code to the private-use area: glyphs drawn, text lost. */
const BROKEN_MAP = Buffer.from(
  [
    '/CIDInit /ProcSet findresource begin 12 dict begin begincmap',
    '/CMapName /Broken def',
    '1 begincodespacerange <00> <FF> endcodespacerange',
    '1 beginbfrange <20> <7E> <E020> endbfrange',
    'endcmap CMapName currentdict /CMap defineresource pop end end',
  ].join('\n'),
);

/**
 * A page of large Helvetica lines, the last of them in a font whose
 * ToUnicode map is broken: drawn right, its text layer private-use codes.
 */
export const brokenMapPdf = (lines: readonly string[], broken: string): Buffer => {
  const text = (line: string) => line.replace(/[()\\]/g, '\\$&');
  const content = Buffer.from(
    `BT /F1 18 Tf 72 720 Td 28 TL ${lines.map((line) => `(${text(line)}) Tj T*`).join(' ')} /F2 18 Tf (${text(broken)}) Tj ET`,
  );
  return pdfOf([
    Buffer.from('<< /Type /Catalog /Pages 2 0 R >>'),
    Buffer.from('<< /Type /Pages /Kids [3 0 R] /Count 1 >>'),
    Buffer.from(
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> >>',
    ),
    Buffer.concat([Buffer.from(`<< /Length ${content.length} >>\nstream\n`), content, Buffer.from('\nendstream')]),
    Buffer.from('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>'),
    Buffer.from('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 7 0 R >>'),
    Buffer.concat([
      Buffer.from(`<< /Length ${BROKEN_MAP.length} >>\nstream\n`),
      BROKEN_MAP,
      Buffer.from('\nendstream'),
    ]),
  ]);
};
