import mammoth from 'mammoth';
import { htmlToText } from './html.js';
import { singleDocument, type Loader } from './types.js';
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

const mammothZip = (archive: ZipArchive): MammothZip => ({
  exists: (name) => archive.has(name),
  read: async (name, encoding) => {
    const bytes = await archive.read(name);
    if (encoding === 'base64') return Buffer.from(bytes).toString('base64');
    return encoding ? new TextDecoder(encoding).decode(bytes) : bytes;
  },
});

/** DOCX: one document, its parts read through the capped zip reader. */
export const loadDocx: Loader = async (input) => {
  const archive = await ZipArchive.ofDocument(input, 'DOCX');
  // A cancellation or time limit raised at a checkpoint stays what it is, never a "damaged file".
  const { checkpoint, typed } = readerErrors(input, 'DOCX');
  await checkpoint();
  let text: string;
  try {
    if (input.outputFormat === 'markdown') {
      // mammoth's structural reading (styles → headings, lists, tables) as HTML, then the HTML reading's Markdown.
      const { value: html } = await mammoth.convertToHtml({ file: mammothZip(archive) } as never, {
        ignoreEmptyParagraphs: true,
        convertImage: mammoth.images.imgElement(() => Promise.resolve({ src: '' })),
      });
      await checkpoint();
      ({ text } = await htmlToText(html, input.limits, checkpoint, 'markdown'));
    } else {
      ({ value: text } = await mammoth.extractRawText({ file: mammothZip(archive) } as never));
    }
  } catch (error) {
    throw typed(error);
  } finally {
    archive.close();
  }
  input.onProgress?.(1);
  return singleDocument(input, text);
};
