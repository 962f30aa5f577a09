import JSZip from 'jszip';

/**
 * Small PPTX and ODT files written part by part, for what pandoc will not
 * make: slides listed out of file order, hostile XML, tracked changes.
 */

/** A zip of these parts, in order; `stored` parts are not compressed (OpenDocument's `mimetype` must not be). */
export const zipParts = async (
  parts: ReadonlyArray<readonly [string, string | Uint8Array]>,
  stored: readonly string[] = [],
): Promise<Buffer> => {
  const zip = new JSZip();
  for (const [name, content] of parts) {
    zip.file(name, content, { compression: stored.includes(name) ? 'STORE' : 'DEFLATE' });
  }
  return zip.generateAsync({ type: 'nodebuffer', compressionOptions: { level: 9 } });
};

const A = 'http://schemas.openxmlformats.org/drawingml/2006/main';
const P = 'http://schemas.openxmlformats.org/presentationml/2006/main';
const R = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const PACKAGE_RELS = 'http://schemas.openxmlformats.org/package/2006/relationships';

/** A shape whose paragraphs are these texts; `placeholder` as in `<p:ph type="…">` (`body` for a content placeholder). */
export const shape = (paragraphs: string[], placeholder?: string): string =>
  `<p:sp><p:nvSpPr><p:cNvPr id="2" name="s"/><p:cNvSpPr/><p:nvPr>${
    placeholder === undefined ? '' : placeholder === 'body' ? '<p:ph idx="1"/>' : `<p:ph type="${placeholder}"/>`
  }</p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>${paragraphs
    .map((text) => `<a:p><a:r><a:t>${text}</a:t></a:r></a:p>`)
    .join('')}</p:txBody></p:sp>`;

/** A slide part holding this shape-tree XML; `prolog` goes before the root element (a DOCTYPE…). */
export const slideXml = (tree: string, prolog = ''): string =>
  `<?xml version="1.0" encoding="UTF-8"?>${prolog}<p:sld xmlns:a="${A}" xmlns:p="${P}" xmlns:r="${R}" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><p:cSld><p:spTree>${tree}</p:spTree></p:cSld></p:sld>`;

export interface SlidePart {
  /** The slide part's name under ppt/slides/. */
  file: string;
  xml: string;
  /** Speaker notes, one paragraph each. */
  notes?: string[];
  /** External hyperlink targets by relationship id, for `<a:hlinkClick r:id="…"/>`. */
  links?: Record<string, string>;
  /** More relationships of the slide: `[id, type's last segment, target]` (charts, comments). */
  parts?: Array<[string, string, string]>;
}

/**
 * A PPTX whose presentation lists `slides` in this order (part names are
 * the caller's, so order by name and by presentation can differ).
 */
export const pptxOf = async (
  slides: readonly SlidePart[],
  extra: ReadonlyArray<readonly [string, string | Uint8Array]> = [],
  /** More presentation relationships: `[type's last segment, target]` (comment authors). */
  presentationParts: ReadonlyArray<readonly [string, string]> = [],
): Promise<Buffer> => {
  const ids = slides.map((_, index) => `<p:sldId id="${256 + index}" r:id="rId${index + 10}"/>`).join('');
  const presentationRels =
    slides
      .map((slide, index) => `<Relationship Id="rId${index + 10}" Type="${R}/slide" Target="slides/${slide.file}"/>`)
      .join('') +
    presentationParts
      .map(([type, target], index) => `<Relationship Id="rIdP${index}" Type="${R}/${type}" Target="${target}"/>`)
      .join('');
  const parts: Array<readonly [string, string | Uint8Array]> = [
    ['[Content_Types].xml', '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'],
    [
      'ppt/presentation.xml',
      `<p:presentation xmlns:p="${P}" xmlns:r="${R}"><p:sldIdLst>${ids}</p:sldIdLst></p:presentation>`,
    ],
    ['ppt/_rels/presentation.xml.rels', `<Relationships xmlns="${PACKAGE_RELS}">${presentationRels}</Relationships>`],
  ];
  for (const slide of slides) {
    parts.push([`ppt/slides/${slide.file}`, slide.xml]);
    const relationships = [
      ...Object.entries(slide.links ?? {}).map(
        ([id, url]) => `<Relationship Id="${id}" Type="${R}/hyperlink" Target="${url}" TargetMode="External"/>`,
      ),
      ...(slide.parts ?? []).map(
        ([id, type, target]) => `<Relationship Id="${id}" Type="${R}/${type}" Target="${target}"/>`,
      ),
    ];
    if (slide.notes) {
      const notesFile = `notes-${slide.file}`;
      relationships.push(`<Relationship Id="rIdNotes" Type="${R}/notesSlide" Target="../notesSlides/${notesFile}"/>`);
      parts.push([
        `ppt/notesSlides/${notesFile}`,
        `<p:notes xmlns:a="${A}" xmlns:p="${P}"><p:cSld><p:spTree>${shape(['1'], 'sldNum')}${shape(slide.notes, 'body')}</p:spTree></p:cSld></p:notes>`,
      ]);
    }
    if (relationships.length) {
      parts.push([
        `ppt/slides/_rels/${slide.file}.rels`,
        `<Relationships xmlns="${PACKAGE_RELS}">${relationships.join('')}</Relationships>`,
      ]);
    }
  }
  return zipParts([...parts, ...extra]);
};

const ODF_NAMESPACES = [
  'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"',
  'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"',
  'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"',
  'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"',
  'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"',
  'xmlns:dc="http://purl.org/dc/elements/1.1/"',
  'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"',
  'xmlns:xlink="http://www.w3.org/1999/xlink"',
].join(' ');

/** content.xml with this `office:text` body (and automatic styles); `prolog` before the root element. */
export const odtContentXml = (body: string, { prolog = '', styles = '' } = {}): string =>
  `<?xml version="1.0" encoding="UTF-8"?>${prolog}<office:document-content ${ODF_NAMESPACES} office:version="1.3"><office:automatic-styles>${styles}</office:automatic-styles><office:body><office:text>${body}</office:text></office:body></office:document-content>`;

/** An ODT as OpenDocument packages it (`mimetype` first and stored, so the bytes say what it is). */
export const odtOf = (
  contentXml: string,
  extra: ReadonlyArray<readonly [string, string | Uint8Array]> = [],
): Promise<Buffer> =>
  zipParts(
    [['mimetype', 'application/vnd.oasis.opendocument.text'], ['content.xml', contentXml], ...extra],
    ['mimetype'],
  );

/**
 * Runs a load with a checkpoint that samples the heap: the result (or the
 * error) and the largest growth seen. Past 300 MB the checkpoint stops the
 * load, so a missing guard fails the test rather than the process.
 */
export const withHeapWatch = async (run: (checkpoint: () => Promise<void>) => Promise<unknown>) => {
  const before = process.memoryUsage().heapUsed;
  let growth = 0;
  const sample = () => {
    growth = Math.max(growth, process.memoryUsage().heapUsed - before);
    if (growth > 300 * 1024 * 1024) throw new Error(`the heap grew by ${Math.round(growth / 1024 / 1024)} MB`);
  };
  let result: unknown;
  try {
    result = await run(async () => sample());
  } catch (error) {
    result = error;
  }
  sample();
  return { result, growth };
};

/** A PPTX whose presentation lists one slide part `count` times (one relationship, `count` entries), the slide holding `text`. */
export const repeatedSlidePptx = (count: number, text: string): Promise<Buffer> =>
  zipParts([
    ['[Content_Types].xml', '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'],
    [
      'ppt/presentation.xml',
      `<p:presentation xmlns:p="${P}" xmlns:r="${R}"><p:sldIdLst>${'<p:sldId r:id="rId1"/>'.repeat(count)}</p:sldIdLst></p:presentation>`,
    ],
    [
      'ppt/_rels/presentation.xml.rels',
      `<Relationships xmlns="${PACKAGE_RELS}"><Relationship Id="rId1" Type="${R}/slide" Target="slides/slide1.xml"/></Relationships>`,
    ],
    ['ppt/slides/slide1.xml', slideXml(shape([text]))],
  ]);

/** content.xml holding a table nested in a table, each one cell repeated `repeat` times across and down. */
export const nestedRepeatedTableOdt = (repeat: number): Promise<Buffer> => {
  const table = (cell: string) =>
    `<table:table><table:table-row table:number-rows-repeated="${repeat}"><table:table-cell table:number-columns-repeated="${repeat}">${cell}</table:table-cell></table:table-row></table:table>`;
  return odtOf(odtContentXml(table(table('<text:p>x</text:p>'))));
};

const W = 'http://schemas.openxmlformats.org/wordprocessingml/2006/main';

/** A DOCX whose body is this WordprocessingML (`<w:p>`, `<w:tbl>`…), with styles and numbering parts when given. */
export const docxOf = (
  body: string,
  { styles, numbering }: { styles?: string; numbering?: string } = {},
): Promise<Buffer> =>
  zipParts([
    [
      '[Content_Types].xml',
      '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
    ],
    [
      '_rels/.rels',
      `<Relationships xmlns="${PACKAGE_RELS}"><Relationship Id="rId1" Type="${R}/officeDocument" Target="word/document.xml"/></Relationships>`,
    ],
    [
      'word/_rels/document.xml.rels',
      `<Relationships xmlns="${PACKAGE_RELS}">${styles ? `<Relationship Id="rIdS" Type="${R}/styles" Target="styles.xml"/>` : ''}${
        numbering ? `<Relationship Id="rIdN" Type="${R}/numbering" Target="numbering.xml"/>` : ''
      }</Relationships>`,
    ],
    [
      'word/document.xml',
      `<w:document xmlns:w="${W}" xmlns:r="${R}" xmlns:m="http://schemas.openxmlformats.org/officeDocument/2006/math" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml"><w:body>${body}</w:body></w:document>`,
    ],
    ...(styles ? [['word/styles.xml', `<w:styles xmlns:w="${W}">${styles}</w:styles>`] as const] : []),
    ...(numbering ? [['word/numbering.xml', `<w:numbering xmlns:w="${W}">${numbering}</w:numbering>`] as const] : []),
  ]);

/** A table cell: its text, and `w:gridSpan` / `w:vMerge` ("restart" opens a vertical merge, "" continues one). */
export const docxCell = (text: string, { gridSpan, vMerge }: { gridSpan?: number; vMerge?: string } = {}): string => {
  const properties = `${gridSpan ? `<w:gridSpan w:val="${gridSpan}"/>` : ''}${
    vMerge === undefined ? '' : vMerge ? `<w:vMerge w:val="${vMerge}"/>` : '<w:vMerge/>'
  }`;
  return `<w:tc><w:tcPr>${properties}</w:tcPr><w:p><w:r><w:t>${text}</w:t></w:r></w:p></w:tc>`;
};
