import type { Tiktoken } from 'js-tiktoken/lite';
import type { TokenizerName } from './options.js';

/**
 * Token counting with OpenAI's BPE ranks (js-tiktoken, pure JavaScript). The
 * ranks are 1.1 MB (cl100k_base) and 2.3 MB (o200k_base) of JavaScript: they
 * load on first use, and the deployed worker keeps them outside its bundle
 * (`TOKENIZER_RANK_FILES` in lib/bundling.ts copies them beside it), so a
 * worker that never counts tokens never reads them.
 */
const RANKS: Record<TokenizerName, () => Promise<{ default: ConstructorParameters<typeof Tiktoken>[0] }>> = {
  cl100k_base: () => import('js-tiktoken/ranks/cl100k_base'),
  o200k_base: () => import('js-tiktoken/ranks/o200k_base'),
};

/** Counts tokens as the model would see the text: `<|endoftext|>` in a document is text, not a special token. */
export type TokenCounter = (text: string) => number;

/** Distinct pre-tokens remembered per tokenizer: words repeat, so a few MB of text has far fewer. */
const CACHED_PIECES = 200_000;

/**
 * tiktoken first cuts text with its pattern into pre-tokens, then encodes
 * each one on its own (byte-pair merges never cross them). So a count is
 * the sum of the pre-tokens' counts, and each distinct pre-token need be
 * encoded once: the splitter measures the same text several times over (at
 * each separator level, and every chunk again), and this made token-sized
 * splitting of a 3 MB book about 4 times faster than `encode` on each
 * measure. A test checks the counts against `encode` on the corpus.
 */
const counterOf = (tokenizer: Tiktoken, pattern: string): TokenCounter => {
  const preTokens = new RegExp(pattern, 'gu');
  const counts = new Map<string, number>();
  return (text) => {
    let total = 0;
    for (const [piece] of text.matchAll(preTokens)) {
      let count = counts.get(piece);
      if (count === undefined) {
        count = tokenizer.encode(piece, [], []).length;
        if (counts.size < CACHED_PIECES) counts.set(piece, count);
      }
      total += count;
    }
    return total;
  };
};

const loaded = new Map<TokenizerName, Promise<TokenCounter>>();

export const tokenCounter = (name: TokenizerName): Promise<TokenCounter> => {
  let counter = loaded.get(name);
  if (!counter) {
    counter = Promise.all([import('js-tiktoken/lite'), RANKS[name]()]).then(([{ Tiktoken }, ranks]) =>
      counterOf(new Tiktoken(ranks.default), ranks.default.pat_str),
    );
    loaded.set(name, counter);
  }
  return counter;
};
