import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { RecursiveCharacterTextSplitter } from '@langchain/textsplitters';
import { RecursiveCharacterSplitter } from '../lambdas/documents/splitter.js';
import { CORPUS, median, printTable, round } from './support.js';

const SETTINGS: Array<[number, number]> = [
  [1000, 200],
  [200, 50],
  [4000, 200],
];
const RUNS = 5;

const time = async (run: () => unknown): Promise<number> => {
  const times: number[] = [];
  for (let index = 0; index < RUNS; index++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return median(times) / 1000;
};

export const benchSplitter = async () => {
  const text = readFileSync(resolve(CORPUS, 'text/book-war-and-peace-1225p.txt'), 'utf8');
  const millions = text.length / 1e6;
  const rows = [];
  for (const [chunkSize, chunkOverlap] of SETTINGS) {
    const ours = await time(() => new RecursiveCharacterSplitter({ chunkSize, chunkOverlap }).split(text));
    const langchain = await time(() => new RecursiveCharacterTextSplitter({ chunkSize, chunkOverlap }).splitText(text));
    rows.push({
      settings: `(${chunkSize}, ${chunkOverlap})`,
      'ours M chars/s': round(millions / ours, 1),
      'langchain M chars/s': round(millions / langchain, 1),
      speedup: round(langchain / ours, 1),
    });
  }
  printTable(`Splitter on war-and-peace (${round(millions)} M chars, median of ${RUNS})`, rows);
  return { characters: text.length, rows };
};
