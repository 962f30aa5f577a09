// One measurement in a fresh process, so that peak RSS belongs to it alone.
// argv: <mode> <file> <runs> [bundle]; prints JSON {times: [ms...], maxRssMb, units}.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const [mode, file, runsArg, bundle] = process.argv.slice(2);
const runs = Number(runsArg);
const bytes = readFileSync(file);

const raw = {
  // PDFium alone on one thread: every page's text, as FPDFText_GetText gives it.
  pdf: async () => {
    const { createRequire } = await import('node:module');
    const { init } = await import('@embedpdf/pdfium');
    const wasm = readFileSync(createRequire(import.meta.url).resolve('@embedpdf/pdfium/pdfium.wasm'));
    const pdfium = await init({ wasmBinary: wasm });
    pdfium.PDFiumExt_Init();
    const api = pdfium.pdfium.wasmExports;
    return async () => {
      const data = api.malloc(bytes.length);
      pdfium.pdfium.HEAPU8.set(bytes, data);
      const doc = pdfium.FPDF_LoadMemDocument(data, bytes.length, '');
      const pages = pdfium.FPDF_GetPageCount(doc);
      for (let index = 0; index < pages; index++) {
        const page = api.FPDF_LoadPage(doc, index);
        const text = api.FPDFText_LoadPage(page);
        const chars = api.FPDFText_CountChars(text);
        const buffer = api.malloc((chars + 1) * 2);
        api.FPDFText_GetText(text, 0, chars, buffer);
        api.free(buffer);
        api.FPDFText_ClosePage(text);
        api.FPDF_ClosePage(page);
      }
      pdfium.FPDF_CloseDocument(doc);
      api.free(data);
      return pages;
    };
  },
  docx: async () => {
    const mammoth = (await import('mammoth')).default;
    return async () => (await mammoth.extractRawText({ buffer: bytes })).value.length;
  },
  html: async () => {
    const { load } = await import('cheerio');
    return async () => load(bytes.toString('utf8')).root().text().length;
  },
  text: async () => async () => new TextDecoder().decode(bytes).length,
};

const OPTIONS = { split: false, chunk_size: 1000, chunk_overlap: 200 };

/** The worker as deployed: every document in its sandbox thread, prewarmed (with its PDF threads) as the large worker's init does. */
const sandboxed = async () => {
  const { SandboxPool } = await import(bundle);
  const pool = new SandboxPool({ memoryMb: Number(process.env.SANDBOX_MEMORY_MB ?? 2457), prewarmPdfThreads: true });
  await pool.prewarm(1);
  return async () => {
    const { headline } = await pool.process({ bytes, filename: basename(file) }, OPTIONS);
    return headline.stats.pages ?? headline.stats.characters;
  };
};

/** The baseline without the sandbox: processDocument on the calling thread, its PDF threads prewarmed the same way. */
const direct = async () => {
  const { processDocument, prewarmThreads, defaultThreadCount } = await import(bundle);
  await prewarmThreads(defaultThreadCount(), 256);
  return async () => {
    const result = await processDocument({ bytes, filename: basename(file) }, OPTIONS);
    return result.stats.pages ?? result.stats.characters;
  };
};

const run = mode === 'sandboxed' ? await sandboxed() : mode === 'direct' ? await direct() : await raw[mode]();
const times = [];
let units = 0;
for (let index = 0; index < runs; index++) {
  const started = performance.now();
  units = await run();
  times.push(performance.now() - started);
}
// VmHWM, not getrusage's maxRSS: Linux keeps ru_maxrss across exec, so a child would report the peak of the process it was forked from.
const peakRssMb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;
process.stdout.write(JSON.stringify({ times, units, maxRssMb: peakRssMb }));
