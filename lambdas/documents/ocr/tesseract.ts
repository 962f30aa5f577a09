import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { AppError } from '../../errors.js';
import type { OcrLanguage } from './languages.js';

/**
 * Tesseract 5 (LSTM recognition) compiled to WebAssembly, from
 * `tesseract.js-core`, driven here directly rather than through tesseract.js:
 * that package runs each engine in a worker thread of its own, outside the
 * sandbox's memory watch and time limits; here the engine runs in whichever
 * thread reads the document (the sandbox thread), under its limits. One
 * build serves both steps: the SIMD build with the legacy engine, which the
 * orientation detector (OSD) needs; recognition uses the LSTM models only.
 *
 * Trained data: tesseract's `best_int` models from `@tesseract.js-data/*`,
 * gunzipped into the engine's file system when a task first asks for a
 * language. Engine, models and data ship beside the bundles and load lazily
 * (lib/bundling.ts).
 */

const require = createRequire(import.meta.url);

interface TessResults {
  best_result: { orientation_id: number; oconfidence: number };
  delete?(): void;
}

interface TessApi {
  Init(dataPath: string, languages: string, engineMode: number): number;
  SetVariable(name: string, value: string): boolean;
  SetImageFile(exifOrientation: number, angleRadians: number): number;
  FindLines(): void;
  GetGradient(): number;
  DetectOS(results: TessResults): boolean;
  Recognize(monitor: null): number;
  GetUTF8Text(): string;
  GetTSVText(page: number): string;
  MeanTextConf(): number;
  Clear(): void;
  End(): void;
}

interface TessModule {
  FS: { writeFile(path: string, data: Uint8Array): void; unlink(path: string): void };
  TessBaseAPI: new () => TessApi;
  OSResults: new () => TessResults;
}

/** Engine modes: the legacy engine (OSD only), the LSTM recogniser. */
const OEM_LEGACY = 0;
const OEM_LSTM = 1;
/** Fully automatic page segmentation, without OSD (orientation is settled first). */
const PSM_AUTO = '3';
/** Below this OSD confidence the page is read as it stands (a page with little text gives no clear answer). */
const MIN_ORIENTATION_CONFIDENCE = 1.5;
/** Skew below this (radians, about 0.3°) is left alone. */
const MIN_SKEW = 0.005;
/** A word below this confidence (0–100) counts as uncertain. */
const LOW_WORD_CONFIDENCE = 60;

const INPUT = '/input';

/** The EXIF orientation whose correction turns the image by the detected quarter turn. */
const EXIF_OF_TURN = { 0: 1, 90: 6, 180: 3, 270: 8 } as const;

/** An image for the engine: a file it decodes itself (PNG, JPEG, WebP, PNM), or 8-bit grey pixels. */
export type OcrImage =
  { kind: 'encoded'; bytes: Uint8Array } | { kind: 'gray'; width: number; height: number; pixels: Uint8Array };

/** A recognised word, its box in the image's pixels as read (after rotation). */
export interface OcrWord {
  text: string;
  confidence: number;
  left: number;
  top: number;
  width: number;
  height: number;
  /** Block, paragraph and line numbers, which group words into lines. */
  block: number;
  paragraph: number;
  line: number;
}

export interface OcrPage {
  text: string;
  /** Mean word confidence, 0–1. */
  confidence: number;
  /** Share of words below 60 % confidence. */
  lowConfidenceShare: number;
  /** The turn (degrees) the page was given to read it upright, and the skew corrected (radians). */
  rotation: 0 | 90 | 180 | 270;
  skew: number;
  words: OcrWord[];
}

/** An 8-bit grey image as a binary PGM, which leptonica reads without a codec. */
export const pgmOf = ({ width, height, pixels }: { width: number; height: number; pixels: Uint8Array }): Uint8Array => {
  const header = Buffer.from(`P5\n${width} ${height}\n255\n`, 'latin1');
  const out = new Uint8Array(header.length + width * height);
  out.set(header);
  out.set(pixels.subarray(0, width * height), header.length);
  return out;
};

const trainedData = (language: string): Uint8Array =>
  gunzipSync(readFileSync(require.resolve(`@tesseract.js-data/${language}/4.0.0_best_int/${language}.traineddata.gz`)));

let core: Promise<TessModule> | undefined;

const loadCore = (): Promise<TessModule> =>
  (core ??= (async () => {
    const factory = require('tesseract.js-core/tesseract-core-simd.js') as (
      options: Record<string, unknown>,
    ) => Promise<TessModule>;
    return factory({ print: () => {}, printErr: () => {} });
  })());

/** Parses tesseract's TSV (level 5 rows are words). */
const wordsOf = (tsv: string): OcrWord[] => {
  const words: OcrWord[] = [];
  for (const row of tsv.split('\n')) {
    const cells = row.split('\t');
    if (cells[0] !== '5' || cells.length < 12) continue;
    const text = (cells[11] ?? '').trim();
    if (!text) continue;
    const [, , block, paragraph, line, , left, top, width, height, confidence] = cells.map(Number);
    words.push({
      text,
      confidence: confidence ?? 0,
      left: left ?? 0,
      top: top ?? 0,
      width: width ?? 0,
      height: height ?? 0,
      block: block ?? 0,
      paragraph: paragraph ?? 0,
      line: line ?? 0,
    });
  }
  return words;
};

/**
 * One engine per thread and language list: the models stay loaded between
 * pages and documents (initialising one takes about 0.1–0.5 s).
 */
export class OcrEngine {
  private static engines = new Map<string, Promise<OcrEngine>>();

  private constructor(
    private readonly module: TessModule,
    private readonly recogniser: TessApi,
    private readonly orienter: TessApi | undefined,
  ) {}

  /** Forgets every engine and their module: after an abort inside it, the module is unusable; the next read loads anew. */
  static discard(): void {
    OcrEngine.engines.clear();
    core = undefined;
  }

  static for(languages: readonly OcrLanguage[]): Promise<OcrEngine> {
    const key = languages.join('+');
    let engine = OcrEngine.engines.get(key);
    if (!engine) {
      engine = OcrEngine.create(languages);
      OcrEngine.engines.set(key, engine);
      engine.catch(() => OcrEngine.engines.delete(key));
    }
    return engine;
  }

  private static async create(languages: readonly OcrLanguage[]): Promise<OcrEngine> {
    const module = await loadCore();
    for (const language of [...languages, 'osd'])
      module.FS.writeFile(`/${language}.traineddata`, trainedData(language));
    const recogniser = new module.TessBaseAPI();
    if (recogniser.Init('/', languages.join('+'), OEM_LSTM) !== 0) {
      throw new AppError('INTERNAL_ERROR', `The OCR engine could not load ${languages.join('+')}.`);
    }
    recogniser.SetVariable('tessedit_pageseg_mode', PSM_AUTO);
    const orienter = new module.TessBaseAPI();
    const oriented = orienter.Init('/', 'osd', OEM_LEGACY) === 0;
    return new OcrEngine(module, recogniser, oriented ? orienter : undefined);
  }

  /** The quarter turn that brings the page upright, from the OSD model; 0 when it cannot tell. */
  private orientation(): 0 | 90 | 180 | 270 {
    if (!this.orienter) return 0;
    this.orienter.SetImageFile(1, 0);
    const results = new this.module.OSResults();
    try {
      if (!this.orienter.DetectOS(results)) return 0;
      const { orientation_id: id, oconfidence: confidence } = results.best_result;
      if (confidence < MIN_ORIENTATION_CONFIDENCE) return 0;
      return ([0, 270, 180, 90] as const)[id] ?? 0;
    } finally {
      results.delete?.();
      this.orienter.Clear();
    }
  }

  recognize(image: OcrImage): OcrPage {
    this.module.FS.writeFile(INPUT, image.kind === 'encoded' ? image.bytes : pgmOf(image));
    try {
      const rotation = this.orientation();
      // Quarter turns through the EXIF orientation (a lossless turn of the whole image); skew by angle.
      const exif = EXIF_OF_TURN[rotation];
      const api = this.recogniser;
      if (api.SetImageFile(exif, 0) === 1) {
        throw new AppError('DOCUMENT_PARSE_ERROR', 'The image could not be decoded for OCR.');
      }
      api.FindLines();
      const gradient = api.GetGradient();
      let skew = 0;
      if (Math.abs(gradient) >= MIN_SKEW && Math.abs(gradient) < Math.PI / 8) {
        skew = gradient;
        api.SetImageFile(exif, skew);
      }
      api.Recognize(null);
      const words = wordsOf(api.GetTSVText(0));
      const text = api
        .GetUTF8Text()
        .replace(/[ \t]+\n/g, '\n')
        .trim();
      const confidence = words.length ? api.MeanTextConf() / 100 : 0;
      const low = words.filter((word) => word.confidence < LOW_WORD_CONFIDENCE).length;
      api.Clear();
      return {
        text,
        confidence,
        lowConfidenceShare: words.length ? low / words.length : 0,
        rotation,
        skew,
        words,
      };
    } finally {
      this.module.FS.unlink(INPUT);
    }
  }
}
