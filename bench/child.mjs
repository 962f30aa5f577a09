// One measurement in a fresh process, so that peak RSS belongs to it alone.
// argv: <mode> <file> <runs> [bundle]; prints JSON {times: [ms...], maxRssMb, units}.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const [mode, file, runsArg, bundle] = process.argv.slice(2);
const runs = Number(runsArg);
const bytes = readFileSync(file);

const raw = {
  pdf: async () => {
    const { PDFParse } = await import('pdf-parse');
    return async () => {
      const parser = new PDFParse({ data: new Uint8Array(bytes) });
      const result = await parser.getText();
      await parser.destroy();
      return result.total;
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
