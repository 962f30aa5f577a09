import { parseDocument } from 'htmlparser2';
import { describe, expect, it } from 'vitest';
import { OPTION_DEFAULTS, type ProcessingOptions } from '../../lambdas/documents/options.js';
import { processDocument } from '../../lambdas/documents/process-document.js';
import { ommlToLatex } from '../../lambdas/documents/loaders/omml.js';
import { descendants } from '../../lambdas/documents/loaders/xml.js';
import { docxOf } from '../support/office-files.js';

const read = async (bytes: Buffer, options: Partial<ProcessingOptions> = {}) =>
  (await processDocument({ bytes, filename: 'doc.docx' }, { ...OPTION_DEFAULTS, ...options })).documents
    .map((document) => document.page_content)
    .join('\n\n');

const paragraph = (inner: string, properties = '') =>
  `<w:p>${properties ? `<w:pPr>${properties}</w:pPr>` : ''}${inner}</w:p>`;
const run = (text: string) => `<w:r><w:t xml:space="preserve">${text}</w:t></w:r>`;
const math = (inner: string) => `<m:oMath>${inner}</m:oMath>`;
const mr = (text: string) => `<m:r><m:t>${text}</m:t></m:r>`;
const sup = (base: string, power: string) => `<m:sSup><m:e>${mr(base)}</m:e><m:sup>${mr(power)}</m:sup></m:sSup>`;

const latexOf = (omml: string) => {
  const root = parseDocument(`<r>${omml}</r>`, { xmlMode: true });
  const element = descendants(root, 'oMath')[0];
  if (!element) throw new Error('no m:oMath');
  return ommlToLatex(element);
};

describe('DOCX equations (OMML as LaTeX)', () => {
  it('writes fractions, roots, scripts, n-ary operators, delimiters, accents and matrices', () => {
    expect(latexOf(math(`${mr('A=π')}${sup('r', '2')}`))).toBe('A=\\pi r^{2}');
    expect(latexOf(math(`<m:f><m:num>${mr('a')}</m:num><m:den>${mr('b+1')}</m:den></m:f>`))).toBe('\\frac{a}{b+1}');
    expect(latexOf(math(`<m:rad><m:deg>${mr('3')}</m:deg><m:e>${mr('x')}</m:e></m:rad>`))).toBe('\\sqrt[3]{x}');
    expect(
      latexOf(
        math(
          `<m:nary><m:naryPr><m:chr m:val="∑"/></m:naryPr><m:sub>${mr('i=1')}</m:sub><m:sup>${mr('n')}</m:sup><m:e><m:sSub><m:e>${mr('x')}</m:e><m:sub>${mr('i')}</m:sub></m:sSub></m:e></m:nary>`,
        ),
      ),
    ).toBe('\\sum_{i=1}^{n}{x_{i}}');
    expect(
      latexOf(
        math(
          `<m:d><m:dPr><m:begChr m:val="["/><m:endChr m:val="]"/></m:dPr><m:e>${mr('a')}</m:e><m:e>${mr('b')}</m:e></m:d>`,
        ),
      ),
    ).toBe('[a,b]');
    expect(latexOf(math(`<m:acc><m:accPr><m:chr m:val="̄"/></m:accPr><m:e>${mr('x')}</m:e></m:acc>`))).toBe('\\bar{x}');
    expect(
      latexOf(
        math(
          `<m:m><m:mr><m:e>${mr('1')}</m:e><m:e>${mr('0')}</m:e></m:mr><m:mr><m:e>${mr('0')}</m:e><m:e>${mr('1')}</m:e></m:mr></m:m>`,
        ),
      ),
    ).toBe('\\begin{matrix} 1 & 0 \\\\ 0 & 1 \\end{matrix}');
  });

  it('keeps inline and display equations in their place: $…$ and $$…$$ in Markdown, bare LaTeX in text', async () => {
    const bytes = await docxOf(
      paragraph(`${run('The area is ')}${math(`${mr('A=π')}${sup('r', '2')}`)}${run(' for a circle.')}`) +
        paragraph(`<m:oMathPara>${math(`${mr('E=m')}${sup('c', '2')}`)}</m:oMathPara>`),
    );
    expect(await read(bytes, { output_format: 'markdown' })).toBe(
      'The area is $A=\\pi r^{2}$ for a circle.\n\n$$E=mc^{2}$$',
    );
    expect(await read(bytes)).toBe('The area is A=\\pi r^{2} for a circle.\n\nE=mc^{2}');
  });
});

describe('DOCX check boxes', () => {
  it('writes content-control and legacy form check boxes as [x] and [ ]', async () => {
    const control = (checked: boolean) =>
      `<w:sdt><w:sdtPr><w14:checkbox><w14:checked w14:val="${checked ? 1 : 0}"/></w14:checkbox></w:sdtPr><w:sdtContent><w:r><w:t>${checked ? '☒' : '☐'}</w:t></w:r></w:sdtContent></w:sdt>`;
    const legacy = (checked: boolean) =>
      `<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:checkBox><w:sizeAuto/><w:default w:val="${checked ? 1 : 0}"/></w:checkBox></w:ffData></w:fldChar></w:r><w:r><w:instrText> FORMCHECKBOX </w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>`;
    const bytes = await docxOf(
      paragraph(`${control(true)}${run('Design')}`) +
        paragraph(`${control(false)}${run('Documentation')}`) +
        paragraph(`${legacy(true)}${run('Signed')}`) +
        paragraph(`${legacy(false)}${run('Dated')}`),
    );
    expect(await read(bytes)).toBe('[x] Design\n\n[ ] Documentation\n\n[x] Signed\n\n[ ] Dated');
  });

  it('writes symbol-font boxes, checks and bullets (w:sym) as the text they show', async () => {
    const sym = (font: string, char: string) => `<w:r><w:sym w:font="${font}" w:char="${char}"/></w:r>`;
    const bytes = await docxOf(
      paragraph(`${sym('Wingdings', 'F0FE')}${run(' Paid')}`) +
        paragraph(`${sym('Wingdings', 'F0A8')}${run(' Shipped')}`) +
        paragraph(`${sym('Symbol', 'F0B7')}${run(' Item')}`) +
        paragraph(`${sym('Wingdings', 'F0FC')}${run(' Checked')}`),
    );
    expect(await read(bytes)).toBe('[x] Paid\n\n[ ] Shipped\n\n• Item\n\n✓ Checked');
  });
});

describe('DOCX heading numbers', () => {
  const styles = [
    '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:pPr><w:numPr><w:numId w:val="1"/></w:numPr><w:outlineLvl w:val="0"/></w:pPr></w:style>',
    '<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/><w:basedOn w:val="Heading1"/><w:pPr><w:numPr><w:ilvl w:val="1"/><w:numId w:val="1"/></w:numPr><w:outlineLvl w:val="1"/></w:pPr></w:style>',
    '<w:style w:type="paragraph" w:styleId="Heading3"><w:name w:val="heading 3"/><w:basedOn w:val="Heading1"/><w:pPr><w:numPr><w:ilvl w:val="2"/><w:numId w:val="1"/></w:numPr><w:outlineLvl w:val="2"/></w:pPr></w:style>',
    '<w:style w:type="paragraph" w:styleId="Annex"><w:name w:val="Annex Title"/><w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style>',
    '<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/></w:style>',
  ].join('');
  const level = (ilvl: number, format: string, text: string) =>
    `<w:lvl w:ilvl="${ilvl}"><w:start w:val="1"/><w:numFmt w:val="${format}"/><w:lvlText w:val="${text}"/></w:lvl>`;
  const numbering =
    `<w:abstractNum w:abstractNumId="0">${level(0, 'decimal', '%1.')}${level(1, 'decimal', '%1.%2')}${level(2, 'lowerLetter', '%1.%2.%3)')}</w:abstractNum>` +
    '<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>';
  const heading = (style: string, text: string) => paragraph(run(text), `<w:pStyle w:val="${style}"/>`);

  it('writes the numbers Word draws before headings, counting as Word does, and maps headings by outline level', async () => {
    const body = [
      heading('Title', 'Harbour Manual'),
      heading('Heading1', 'Introduction'),
      heading('Heading2', 'Scope'),
      heading('Heading2', 'Terms'),
      heading('Heading1', 'Operations'),
      // A third level right under the first: Word counts the missing second level at its start.
      heading('Heading3', 'Cranes'),
      heading('Heading2', 'Berths'),
      heading('Annex', 'Tables'),
    ].join('');
    const bytes = await docxOf(body, { styles, numbering });
    expect((await read(bytes)).split('\n\n')).toEqual([
      'Harbour Manual',
      '1. Introduction',
      '1.1 Scope',
      '1.2 Terms',
      '2. Operations',
      '2.1.a) Cranes',
      '2.2 Berths',
      'Tables',
    ]);
    expect((await read(bytes, { output_format: 'markdown' })).split('\n\n')).toEqual([
      '# Harbour Manual',
      '# 1. Introduction',
      '## 1.1 Scope',
      '## 1.2 Terms',
      '# 2. Operations',
      '### 2.1.a) Cranes',
      '## 2.2 Berths',
      '## Tables',
    ]);
  });
});

describe('what the office readers leave out is counted', () => {
  it('warns of a DOCX picture, embedded object and chart with their counts', async () => {
    const picture =
      '<w:r><w:drawing><wp:inline xmlns:wp="wp"><a:graphic xmlns:a="a"><a:graphicData><pic:pic xmlns:pic="pic"/></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>';
    const object = '<w:r><w:object><o:OLEObject xmlns:o="o" ProgID="Excel.Sheet.12"/></w:object></w:r>';
    const bytes = await docxOf(paragraph(`${run('Text')}${picture}${picture}`) + paragraph(object));
    const result = await processDocument({ bytes, filename: 'doc.docx' }, OPTION_DEFAULTS);
    expect(result.warnings).toEqual([
      {
        code: 'CONTENT_NOT_READ',
        message:
          'The DOCX holds 2 pictures and 1 embedded object that were not read: any text they hold is not in the result.',
      },
    ]);
    const plain = await processDocument(
      { bytes: await docxOf(paragraph(run('Text'))), filename: 'doc.docx' },
      OPTION_DEFAULTS,
    );
    expect(plain.warnings).toEqual([]);
  });
});
