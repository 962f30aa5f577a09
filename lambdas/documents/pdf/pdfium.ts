import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { AppError } from '../../errors.js';

/**
 * PDFium (Chrome's PDF engine) compiled to WebAssembly, from
 * `@embedpdf/pdfium`: chosen over `@hyzyla/pdfium` (same speed, measured on
 * DA-619p: 1.2 s for 619 pages on one thread) because it exposes the whole C
 * API (character boxes and origins, font size, weight and flags, page
 * objects, rendering with a matrix, a PNG encoder) where the other wraps four
 * text calls. The package stays out of the bundles and ships beside them
 * (lib/bundling.ts): functions that never read a PDF do not load it.
 *
 * Each document gets an instance of its own, whose linear memory may not grow
 * past `memoryBytes`: an allocation past it fails inside PDFium, which stops
 * (a trap) and the document fails DOCUMENT_TOO_LARGE; the instance is then
 * dropped, so one document's growth never carries over to the next. The
 * compiled module is kept per thread (compiling takes about 30 ms).
 */

/** The C functions called here, straight from the instance's exports (no wrapper: a call costs nanoseconds). */
export interface PdfiumExports {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  free(pointer: number): void;
  PDFiumExt_Init(): void;
  FPDF_LoadMemDocument(data: number, size: number, password: number): number;
  FPDF_GetLastError(): number;
  FPDF_CloseDocument(doc: number): void;
  FPDF_GetPageCount(doc: number): number;
  FPDF_LoadPage(doc: number, index: number): number;
  FPDF_ClosePage(page: number): void;
  FPDF_GetPageWidthF(page: number): number;
  FPDF_GetPageHeightF(page: number): number;
  FPDFPage_GetRotation(page: number): number;
  FPDF_PageToDevice(
    page: number,
    startX: number,
    startY: number,
    sizeX: number,
    sizeY: number,
    rotate: number,
    pageX: number,
    pageY: number,
    deviceX: number,
    deviceY: number,
  ): number;
  FPDFPage_CountObjects(page: number): number;
  FPDFPage_GetObject(page: number, index: number): number;
  FPDFPageObj_GetType(object: number): number;
  FPDFPageObj_GetBounds(object: number, left: number, bottom: number, right: number, top: number): number;
  FPDFPageObj_GetMatrix(object: number, matrix: number): number;
  FPDFPath_CountSegments(path: number): number;
  FPDFPath_GetDrawMode(path: number, fillMode: number, stroke: number): number;
  FPDFPath_GetPathSegment(path: number, index: number): number;
  FPDFPathSegment_GetPoint(segment: number, x: number, y: number): number;
  FPDFPathSegment_GetType(segment: number): number;
  FPDFPathSegment_GetClose(segment: number): number;
  FPDFFormObj_CountObjects(form: number): number;
  FPDFFormObj_GetObject(form: number, index: number): number;
  FPDFText_LoadPage(page: number): number;
  FPDFText_ClosePage(textPage: number): void;
  FPDFText_CountChars(textPage: number): number;
  FPDFText_GetUnicode(textPage: number, index: number): number;
  FPDFText_IsGenerated(textPage: number, index: number): number;
  FPDFText_HasUnicodeMapError(textPage: number, index: number): number;
  FPDFText_GetFontSize(textPage: number, index: number): number;
  FPDFText_GetMatrix(textPage: number, index: number, matrix: number): number;
  FPDFText_GetCharAngle(textPage: number, index: number): number;
  FPDFText_GetCharOrigin(textPage: number, index: number, x: number, y: number): number;
  FPDFText_GetCharBox(
    textPage: number,
    index: number,
    left: number,
    right: number,
    bottom: number,
    top: number,
  ): number;
  FPDFText_GetTextObject(textPage: number, index: number): number;
  FPDFTextObj_GetFont(textObject: number): number;
  FPDFFont_GetWeight(font: number): number;
  FPDFFont_GetFlags(font: number): number;
  FPDFFont_GetBaseFontName(font: number, buffer: number, length: number): number;
  FPDFImageObj_GetImagePixelSize(image: number, width: number, height: number): number;
  FPDFImageObj_GetImageFilterCount(image: number): number;
  FPDFImageObj_GetImageFilter(image: number, index: number, buffer: number, length: number): number;
  FPDFImageObj_GetImageDataRaw(image: number, buffer: number, length: number): number;
  FPDFImageObj_GetBitmap(image: number): number;
  FPDFBitmap_GetFormat(bitmap: number): number;
  FPDFBitmap_GetWidth(bitmap: number): number;
  FPDFBitmap_GetHeight(bitmap: number): number;
  EPDF_PNG_EncodeRGBA(rgba: number, width: number, height: number, stride: number, level: number, out: number): number;
  FPDFBitmap_Create(width: number, height: number, alpha: number): number;
  FPDFBitmap_FillRect(bitmap: number, left: number, top: number, width: number, height: number, color: number): number;
  FPDFBitmap_GetBuffer(bitmap: number): number;
  FPDFBitmap_GetStride(bitmap: number): number;
  FPDFBitmap_Destroy(bitmap: number): void;
  FPDF_RenderPageBitmap(
    bitmap: number,
    page: number,
    x: number,
    y: number,
    width: number,
    height: number,
    rotate: number,
    flags: number,
  ): void;
}

interface EmscriptenImports {
  env: Record<string, unknown>;
}

const require = createRequire(import.meta.url);

let compiled: Promise<WebAssembly.Module> | undefined;
let factory: Promise<(overrides: Record<string, unknown>) => Promise<unknown>> | undefined;

const compiledModule = (): Promise<WebAssembly.Module> =>
  (compiled ??= WebAssembly.compile(readFileSync(require.resolve('@embedpdf/pdfium/pdfium.wasm'))));

/** The package's Emscripten factory (`init` wraps it): imported on first use, from beside the bundle. */
const emscriptenFactory = () =>
  (factory ??= import('@embedpdf/pdfium').then(
    ({ init }) => init as unknown as (overrides: Record<string, unknown>) => Promise<unknown>,
  ));

/** An engine instance past its memory cap: the document needs more than a reader may use. */
export const engineOutOfMemory = (): AppError =>
  new AppError(
    'DOCUMENT_TOO_LARGE',
    'The PDF needs more memory than a reader may use (a decompression bomb, or a page too large to read).',
  );

/** One PDFium instance, for one document. */
export class PdfiumInstance {
  /** Set once an allocation was refused: whatever PDFium does next, the document failed for memory. */
  outOfMemory = false;

  private constructor(readonly api: PdfiumExports) {}

  static async create(memoryBytes: number): Promise<PdfiumInstance> {
    const [module, init] = await Promise.all([compiledModule(), emscriptenFactory()]);
    let holder: PdfiumInstance | undefined;
    let refused = false;
    await init({
      // Instantiates the compiled module with Emscripten's imports, its heap growth capped.
      instantiateWasm: (imports: EmscriptenImports, receive: (instance: WebAssembly.Instance) => void) => {
        const grow = imports.env.emscripten_resize_heap as (size: number) => boolean;
        imports.env.emscripten_resize_heap = (size: number) => {
          if (size >>> 0 > memoryBytes) {
            refused = true;
            if (holder) holder.outOfMemory = true;
            return false;
          }
          return grow(size);
        };
        void WebAssembly.instantiate(module, imports as unknown as WebAssembly.Imports).then(
          (instance: WebAssembly.Instance) => receive(instance),
        );
        return {};
      },
      print: () => {},
      printErr: () => {},
    }).then((wrapped) => {
      const exports = (wrapped as { pdfium: { wasmExports: PdfiumExports } }).pdfium.wasmExports;
      holder = new PdfiumInstance(exports);
      holder.outOfMemory = refused;
    });
    const instance = holder as unknown as PdfiumInstance;
    instance.api.PDFiumExt_Init();
    return instance;
  }

  /** The instance's memory as bytes; taken anew after any call, since growth replaces the buffer. */
  bytes(): Uint8Array {
    return new Uint8Array(this.api.memory.buffer);
  }

  /** Runs a call into PDFium; a trap after a refused allocation is the document's memory, anything else a parse error. */
  call<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (this.outOfMemory || error instanceof RangeError) throw engineOutOfMemory();
      throw new AppError('DOCUMENT_PARSE_ERROR', 'The PDF could not be read: the PDF engine stopped on it.', {
        cause: error,
      });
    }
  }
}

/** FPDF_GetLastError's codes. */
const FPDF_ERR_PASSWORD = 4;
const FPDF_ERR_SECURITY = 5;
const FPDF_ERR_FORMAT = 3;

/** An open document in its own instance: its bytes copied into the instance's memory for as long as it is open. */
export class PdfiumDocument {
  private constructor(
    readonly engine: PdfiumInstance,
    readonly handle: number,
    private readonly data: number,
  ) {}

  static async open(bytes: Uint8Array, memoryBytes: number): Promise<PdfiumDocument> {
    const engine = await PdfiumInstance.create(memoryBytes);
    const { api } = engine;
    const data = engine.call(() => api.malloc(bytes.byteLength));
    if (!data) throw engineOutOfMemory();
    engine.bytes().set(bytes, data);
    const handle = engine.call(() => api.FPDF_LoadMemDocument(data, bytes.byteLength, 0));
    if (!handle) {
      const code = api.FPDF_GetLastError();
      api.free(data);
      if (engine.outOfMemory) throw engineOutOfMemory();
      if (code === FPDF_ERR_PASSWORD || code === FPDF_ERR_SECURITY) {
        throw new AppError(
          'PDF_PASSWORD_PROTECTED',
          'The PDF is encrypted with a password; upload an unprotected copy.',
        );
      }
      const detail = code === FPDF_ERR_FORMAT ? ': it is not a PDF, or is damaged beyond repair' : '';
      throw new AppError('DOCUMENT_PARSE_ERROR', `The PDF could not be read${detail}.`);
    }
    return new PdfiumDocument(engine, handle, data);
  }

  get pageCount(): number {
    return this.engine.call(() => this.engine.api.FPDF_GetPageCount(this.handle));
  }

  /** Loads page `index` (0-based), runs `read` on it, and closes it. */
  withPage<T>(index: number, read: (page: number) => T): T {
    const { api } = this.engine;
    const page = this.engine.call(() => api.FPDF_LoadPage(this.handle, index));
    if (!page) {
      if (this.engine.outOfMemory) throw engineOutOfMemory();
      throw new AppError('DOCUMENT_PARSE_ERROR', `The PDF could not be read: page ${index + 1} is damaged.`);
    }
    try {
      return this.engine.call(() => read(page));
    } finally {
      api.FPDF_ClosePage(page);
    }
  }

  close(): void {
    try {
      this.engine.api.FPDF_CloseDocument(this.handle);
      this.engine.api.free(this.data);
    } catch {
      // An instance that trapped is dropped whole; nothing to free.
    }
  }
}
