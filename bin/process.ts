/**
 * `npm run process -- <file> [--split] [--chunk-size N] [--chunk-overlap N] [--output-format text|markdown]
 *   [--chunk-strategy recursive|markdown|by_heading|by_page] [--chunk-size-unit chars|tokens]
 *   [--tokenizer cl100k_base|o200k_base] [--pages 1-3,7] [--content-type T] [--no-cache]`
 *
 * `--no-cache` is taken as every option of the API is, and changes nothing:
 * this command parses the file every time, there is no cache here.
 * Prints the `result` JSON the API would return for the file, or the error
 * JSON (and exits 1). The quickest way to see what the service makes of a
 * document.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { AppError, toTaskError } from '../lambdas/errors.js';
import { OPTION_NAMES, parseOptions } from '../lambdas/documents/options.js';
import { processDocument } from '../lambdas/documents/process-document.js';

/** Every option of the API as a flag: `chunk_size` is `--chunk-size`. */
const flagOf = (option: string) => option.replace(/_/g, '-');

/** Options that are switches (`--split`), not values. */
const SWITCHES: readonly string[] = ['split', 'no_cache'];

const usage = [
  'usage: npm run process -- <file> [--split] [--chunk-size N] [--chunk-overlap N] [--content-type T]',
  '         [--output-format text|markdown] [--chunk-strategy recursive|markdown|by_heading|by_page]',
  '         [--chunk-size-unit chars|tokens] [--tokenizer cl100k_base|o200k_base] [--pages 1-3,7] [--no-cache]',
].join('\n');

const main = async (): Promise<number> => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      ...Object.fromEntries(
        OPTION_NAMES.filter((name) => !SWITCHES.includes(name)).map((name) => [
          flagOf(name),
          { type: 'string' as const },
        ]),
      ),
      split: { type: 'boolean', default: false },
      'no-cache': { type: 'boolean', default: false },
      'content-type': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [path] = positionals;
  if (values.help || !path || positionals.length > 1) {
    process.stderr.write(`${usage}\n`);
    return values.help ? 0 : 2;
  }
  try {
    const options = parseOptions(
      Object.fromEntries(OPTION_NAMES.map((name) => [name, (values as Record<string, unknown>)[flagOf(name)]])),
    );
    const bytes = await readFile(path);
    const filename = basename(path);
    const result = await processDocument({ bytes, filename, contentType: values['content-type'] }, options);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (error) {
    const body =
      error instanceof AppError
        ? { error: { ...toTaskError(error), ...(error.details ? { details: error.details } : {}) } }
        : { error: { code: 'INTERNAL_ERROR', message: String((error as Error).message ?? error) } };
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return 1;
  }
};

process.exitCode = await main();
