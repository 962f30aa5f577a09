import type { PdfPicture, PictureBounds } from '../pdf/pictures.js';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { AppError } from '../../errors.js';
import type { OutputFormat } from '../options.js';
import { backstopHeapMb, isOutOfMemory, startThread, watchMemory } from '../threads.js';
import type { PageQuality } from '../quality/grade.js';
import type { TextLayer } from '../ocr/recognise.js';
import type { PdfLine } from './pdf-structure.js';

export interface PageRange {
  first: number;
  last: number;
}

/**
 * A page as a reader returns it: its text for text output; for Markdown
 * output, its lines with the positions and sizes the Markdown is made from
 * once every page is in.
 */
export type PageRead = (
  | {
      num: number;
      text: string;
      /** Per line of the text: where it stands and its font size (page-text.ts), to find page furniture. */
      lineYs: number[];
      lineSizes: number[];
      /** Per line, with boxes asked for: its box as shown, `[x0, y0, x1, y1]` (empty: no drawn character). */
      lineBoxes?: number[][];
    }
  | { num: number; lines: PdfLine[] }
) & {
  /** The page's height in the text layer's coordinates, and as shown (after /Rotate: OCR's coordinates). */
  textHeight: number;
  height: number;
  /** What the page's text layer held: whether it needs OCR. */
  layer: TextLayer;
  /** Set when the page was recognised: its mean confidence (0–1). */
  ocr?: { confidence: number };
  /** With figures asked for: the pictures the page draws. */
  pictures?: PdfPicture[];
  /** How well the reading it keeps read (quality/grade.ts): set once the page is graded. */
  quality?: PageQuality;
};

/** Messages a PDF thread accepts. */
export type ThreadRequest =
  | {
      type: 'read';
      doc: number;
      bytes?: Uint8Array;
      maxMemoryBytes: number;
      outputFormat: OutputFormat;
      includeBoxes: boolean;
      pictures?: PictureBounds | undefined;
      range: PageRange;
    }
  | { type: 'close'; doc: number };

/** A document as a PDF thread opens and reads it. */
export interface ThreadDocument {
  bytes: Uint8Array;
  maxMemoryBytes: number;
  outputFormat: OutputFormat;
  /** Pages say where their lines stand (`metadata.boxes`). */
  includeBoxes: boolean;
  /** With figures asked for: pictures within these bounds are handed over with their bytes (pdf/pictures.ts). */
  pictures?: PictureBounds | undefined;
}
/** Messages a PDF thread answers with. */
export type ThreadReply =
  { ready: true } | { pages: PageRead[] } | { error: { name: string; message: string; code?: string } };

/** Array buffers a PDF thread may hold besides its heap, the document and its engine's memory. */
const EXTERNAL_MB = 128;

/** What a page needing more memory than a PDF thread has becomes: a task failure, never a retry elsewhere. */
const pageTooLarge = () =>
  new AppError(
    'DOCUMENT_TOO_LARGE',
    'A page of the PDF needs more memory than a reader may use (it may hold a decompression bomb).',
  );

/**
 * A long-lived PDF worker thread. It stays up between documents so that the
 * engine's module is compiled once per thread (about 30 ms), and it is
 * `unref`ed so that it never keeps the process alive.
 */
class PdfThread {
  private readonly worker: Worker;
  private pending: { resolve: (pages: PageRead[]) => void; reject: (error: unknown) => void } | undefined;
  private openDoc = -1;
  private stopWatch: (() => void) | undefined;
  dead = false;
  /** Resolves once the thread has started (or has died). */
  readonly ready: Promise<void>;
  private markReady: () => void = () => {};

  constructor(readonly heapMb: number) {
    this.ready = new Promise<void>((resolve) => (this.markReady = resolve));
    // Heap and array buffers (decoded streams) are watched; V8's own limit is only a backstop.
    this.worker = startThread('pdf-pages', {
      maxOldGenerationSizeMb: backstopHeapMb(heapMb + EXTERNAL_MB),
      maxYoungGenerationSizeMb: 16,
    });
    this.worker.on('message', (reply: ThreadReply) => {
      if ('ready' in reply) {
        if (!this.pending) this.worker.unref();
        return this.markReady();
      }
      const pending = this.pending;
      this.pending = undefined;
      this.stopWatch?.();
      this.worker.unref();
      if ('error' in reply) pending?.reject(Object.assign(new Error(reply.error.message), reply.error));
      else pending?.resolve(reply.pages);
    });
    poolStats.started++;
    const die = (error: unknown) => {
      if (!this.dead) poolStats.died++;
      this.dead = true;
      this.markReady();
      this.stopWatch?.();
      this.pending?.reject(isOutOfMemory(error) ? pageTooLarge() : error);
      this.pending = undefined;
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`PDF thread exited with code ${code}`)));
    // Only a starting thread or a pending read keeps the process alive; an idle thread never does
    // (it is unref'd once ready, and after each read).
  }

  read(
    doc: number,
    { bytes, maxMemoryBytes, outputFormat, includeBoxes, pictures }: ThreadDocument,
    range: PageRange,
  ): Promise<PageRead[]> {
    if (this.dead) return Promise.reject(new Error('PDF thread is gone'));
    return new Promise<PageRead[]>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.ref();
      this.stopWatch = watchMemory(
        this.worker,
        (this.heapMb + EXTERNAL_MB) * 1024 * 1024 + maxMemoryBytes + bytes.byteLength,
        () => {
          const pending = this.pending;
          this.pending = undefined;
          poolStats.died++;
          pending?.reject(pageTooLarge());
          void this.kill();
        },
      );
      const request: ThreadRequest = {
        type: 'read',
        doc,
        range,
        maxMemoryBytes,
        outputFormat,
        includeBoxes,
        ...(pictures ? { pictures } : {}),
        ...(this.openDoc === doc ? {} : { bytes }),
      };
      this.openDoc = doc;
      this.worker.postMessage(request);
    });
  }

  /** Lets the thread drop its copy of the document and the engine instance holding it. */
  close(doc: number): void {
    if (this.dead || this.openDoc !== doc) return;
    this.openDoc = -1;
    const request: ThreadRequest = { type: 'close', doc };
    this.worker.postMessage(request);
  }

  /** Stops a thread that may be busy (cancellation, time limit); a new one replaces it next time. */
  async kill(): Promise<void> {
    this.worker.removeAllListeners('exit');
    this.stopWatch?.();
    this.dead = true;
    await this.worker.terminate();
  }
}

let threads: PdfThread[] = [];

/** Counters for logs and tests: threads started, and threads that died or were stopped by a limit. */
export const poolStats = { started: 0, died: 0 };
let busy = false;
let nextDoc = 0;

export interface Lease {
  doc: number;
  threads: PdfThread[];
  release(options?: { kill?: boolean }): Promise<void>;
}

/**
 * Borrows up to `wanted` threads for one document. One document at a time
 * uses the pool; a second concurrent caller gets none and reads on its own
 * thread.
 */
export const leaseThreads = (wanted: number, heapMb: number): Lease => {
  const doc = nextDoc++;
  if (busy || wanted <= 0) return { doc, threads: [], release: async () => {} };
  busy = true;
  for (const stale of threads.filter((thread) => thread.heapMb !== heapMb)) void stale.kill();
  threads = threads.filter((thread) => !thread.dead);
  while (threads.length < wanted) threads.push(new PdfThread(heapMb));
  const leased = threads.slice(0, wanted);
  return {
    doc,
    threads: leased,
    release: async ({ kill = false } = {}) => {
      if (kill) await Promise.all(leased.map((thread) => thread.kill()));
      else for (const thread of leased) thread.close(doc);
      busy = false;
    },
  };
};

export const defaultThreadCount = (): number => availableParallelism();

/**
 * Starts the pool's threads ahead of the first large PDF (during the
 * function's init), so that its first document does not wait for them to
 * compile the engine. The threads stay idle and unref'd until a lease uses them.
 */
export const prewarmThreads = async (count: number, heapMb: number): Promise<void> => {
  if (count <= 1 || threads.length) return;
  while (threads.length < count) threads.push(new PdfThread(heapMb));
  await Promise.all(threads.map((thread) => thread.ready));
};

export type { PdfThread };
