/**
 * `npm run process -- <file> [--split] [--chunk-size N] [--chunk-overlap N] [--content-type T]`
 *
 * Prints the `result` JSON the API would return for the file, or the error
 * JSON (and exits 1). The quickest way to see what the service makes of a
 * document.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { AppError, toTaskError } from '../lambdas/core/errors.js';
import { parseOptions } from '../lambdas/core/options.js';
import { processDocument } from '../lambdas/core/process-document.js';

const usage = 'usage: npm run process -- <file> [--split] [--chunk-size N] [--chunk-overlap N] [--content-type T]';

const main = async (): Promise<number> => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      split: { type: 'boolean', default: false },
      'chunk-size': { type: 'string' },
      'chunk-overlap': { type: 'string' },
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
    const options = parseOptions({
      split: values.split,
      chunk_size: values['chunk-size'],
      chunk_overlap: values['chunk-overlap'],
    });
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
