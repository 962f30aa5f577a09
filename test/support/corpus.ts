import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';

/**
 * The shared test corpus lives beside the project (`../shared/corpus`), never
 * inside it; `DOCPROC_CORPUS` points elsewhere.
 */
export const CORPUS_DIR = resolve(process.env.DOCPROC_CORPUS ?? resolve(import.meta.dirname, '../../../shared/corpus'));
if (!existsSync(CORPUS_DIR)) {
  throw new Error(`Test corpus not found at ${CORPUS_DIR}: clone the project beside ../shared or set DOCPROC_CORPUS.`);
}

export const corpusPath = (relativePath: string): string => join(CORPUS_DIR, relativePath);

export const readCorpus = (relativePath: string): Buffer => readFileSync(corpusPath(relativePath));

/** Every document in the corpus (not its README), as paths relative to the corpus. */
export const corpusFiles = (): string[] =>
  readdirSync(CORPUS_DIR, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name !== 'README.md')
    .map((entry) => relative(CORPUS_DIR, join(entry.parentPath, entry.name)))
    .sort();

export const fileNameOf = (relativePath: string): string => basename(relativePath);
