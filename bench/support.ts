import { execFileSync, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
export const CORPUS = resolve(process.env.DOCPROC_CORPUS ?? resolve(ROOT, '../shared/corpus'));

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
};

export const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
};

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

/** Prints rows as an aligned table. */
export const printTable = (title: string, rows: Array<Record<string, string | number>>): void => {
  console.log(`\n${title}`);
  if (!rows.length) return;
  const columns = Object.keys(rows[0] ?? {});
  const width = (column: string) => Math.max(column.length, ...rows.map((row) => String(row[column] ?? '').length));
  const line = (cells: string[]) => cells.map((cell, index) => cell.padEnd(width(columns[index] ?? ''))).join('  ');
  console.log(line(columns));
  console.log(line(columns.map((column) => '-'.repeat(width(column)))));
  for (const row of rows) console.log(line(columns.map((column) => String(row[column] ?? ''))));
};

/** `pdftotext`, installed with apt when missing; undefined when it cannot be had. */
export const ensurePdftotext = (): string | undefined => {
  const found = spawnSync('pdftotext', ['-v'], { encoding: 'utf8' });
  if (found.status === 0 || found.stderr?.includes('pdftotext')) return 'pdftotext';
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', 'poppler-utils'], { stdio: 'ignore' });
    return 'pdftotext';
  } catch {
    try {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
      execFileSync('apt-get', ['install', '-y', '-qq', 'poppler-utils'], { stdio: 'ignore' });
      return 'pdftotext';
    } catch {
      return undefined;
    }
  }
};
