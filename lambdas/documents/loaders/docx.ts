import mammoth from 'mammoth';
import { htmlToText } from './html.js';
import { decodeText } from '../encoding.js';
import { headingStyleMap, notReadOf, prepareDocumentXml } from './docx-xml.js';
import { notReadWarnings, singleDocument, type LoadInput, type Loader, type NotRead } from './types.js';
import { readerErrors } from './office-blocks.js';
import { ZipArchive } from './zip.js';

/**
 * mammoth's zip interface (`lib/zipfile.js`): with `{ file }` it reads parts
 * through it instead of unzipping the bytes with jszip itself. Not in its
 * type declarations, which list only `{ path }`, `{ buffer }` and
 * `{ arrayBuffer }`.
 */
interface MammothZip {
  exists(name: string): boolean;
  read(name: string, encoding?: string): Promise<Uint8Array | string>;
}

const MAIN_PART = 'word/document.xml';

/**
 * The package as mammoth reads it, through the capped zip reader; the main
 * part with what mammoth would leave out put back as text (docx-xml.ts).
 */
const mammothZip = (archive: ZipArchive, input: LoadInput): MammothZip & { notRead: () => Promise<NotRead> } => {
  let main: Promise<string> | undefined;
  let body: string | undefined;
  const text = async (name: string) =>
    archive.has(name) ? decodeText(await archive.read(name), { html: true }).text : undefined;
  const prepared = () =>
    (main ??= (async () =>
      prepareDocumentXml(
        {
          document: (body = (await text(MAIN_PART)) ?? ''),
          styles: await text('word/styles.xml'),
          numbering: await text('word/numbering.xml'),
        },
        input,
      ))());
  return {
    notRead: async () => (body === undefined && !main ? {} : (await prepared(), notReadOf(body ?? ''))),
    exists: (name) => archive.has(name),
    read: async (name, encoding) => {
      if (name === MAIN_PART && encoding && encoding !== 'base64') return prepared();
      if (name === MAIN_PART && !encoding) return new TextEncoder().encode(await prepared());
      const bytes = await archive.read(name);
      if (encoding === 'base64') return Buffer.from(bytes).toString('base64');
      return encoding ? new TextDecoder(encoding).decode(bytes) : bytes;
    },
  };
};

/** DOCX: one document, its parts read through the capped zip reader. */
export const loadDocx: Loader = async (input) => {
  const archive = await ZipArchive.ofDocument(input, 'DOCX');
  // A cancellation or time limit raised at a checkpoint stays what it is, never a "damaged file".
  const { checkpoint, typed } = readerErrors(input, 'DOCX');
  await checkpoint();
  let text: string;
  const zip = mammothZip(archive, { ...input, checkpoint });
  let notRead: NotRead;
  try {
    const pictures = new Map<string, Uint8Array>();
    const figures = input.figures
      ? { collector: input.figures, resolve: (src: string) => pictures.get(src) }
      : undefined;
    if (input.outputFormat === 'markdown' || figures) {
      // mammoth's structural reading (styles → headings, lists, tables) as HTML, then the HTML reading's Markdown.
      const styles = archive.has('word/styles.xml')
        ? decodeText(await archive.read('word/styles.xml'), { html: true }).text
        : undefined;
      const styleMap = await headingStyleMap(styles, { ...input, checkpoint });
      const { value: html } = await mammoth.convertToHtml({ file: zip } as never, {
        ignoreEmptyParagraphs: true,
        styleMap,
        // With figures on, each picture's bytes under a token the HTML reading resolves (html-figures.ts).
        convertImage: mammoth.images.imgElement(async (image) => {
          if (!figures) return { src: '' };
          // Once the figures are full, the rest are counted without being read (a picture used 20,000 times).
          if (figures.collector.full) {
            figures.collector.countOverLimit();
            return { src: '' };
          }
          const src = `docx-picture:${pictures.size}`;
          const bytes = await image.read();
          pictures.set(src, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
          return { src };
        }),
      });
      await checkpoint();
      if (input.outputFormat === 'markdown')
        ({ text } = await htmlToText(html, input.limits, checkpoint, 'markdown', figures));
      // Text output stays mammoth's own text; the HTML reading only finds the figures and their captions.
      else {
        await htmlToText(html, input.limits, checkpoint, 'text', figures);
        ({ value: text } = await mammoth.extractRawText({ file: zip } as never));
      }
    } else {
      ({ value: text } = await mammoth.extractRawText({ file: zip } as never));
    }
    notRead = await zip.notRead();
  } catch (error) {
    throw typed(error);
  } finally {
    archive.close();
  }
  input.onProgress?.(1);
  const loaded = singleDocument(input, text);
  const warnings = notReadWarnings(notRead, 'DOCX');
  return warnings.length ? { ...loaded, warnings } : loaded;
};
