import { createHash } from 'node:crypto';
import type { ProcessingOptions } from '../documents/options.js';
import type { BlobStore, Clock } from './ports.js';
import type { DocumentInput } from '../documents/process-document.js';
import type { ResultPointer } from './task.js';

/**
 * The result cache (docs/api.md, "Result cache"): a task whose input would give
 * the result an earlier task of the same caller already stored gets a copy
 * of that result instead of being parsed again. The key covers everything a
 * result is made from; a caller never reaches another caller's entries,
 * since the caller is part of what the key hashes.
 */

/**
 * Part of every key. Raise it when the same input and options would give a
 * different result (a loader or the splitter changed what it produces), so
 * that no entry made by the earlier code is served after the deploy.
 */
export const RESULT_CACHE_VERSION = 2;

export interface CacheEntry {
  /** The stored result (another task's object), with what a task row keeps of it. */
  result: ResultPointer;
  /** The entry counts until then, whether or not DynamoDB's TTL has removed it yet. */
  expires_at: string;
  /** The stored figures of the result (option `figures`), by key: copied with it. */
  figure_keys?: string[];
}

/** Entries by key (the task table, under their own prefix: adapters/dynamo-result-cache.ts). */
export interface ResultCache {
  get(key: string): Promise<CacheEntry | undefined>;
  put(key: string, entry: CacheEntry): Promise<void>;
}

export interface CacheKeyParts {
  /** The API key id that owns the task. */
  owner: string;
  /** As the worker read it: the bytes, and the file name, source and content type the result is made with. */
  input: DocumentInput;
  options: ProcessingOptions;
  /**
   * The worker's limits: they only refuse documents, but a result made under
   * looser ones must not be served where it would have been refused.
   */
  limits: { maxInputBytes: number; maxPages: number };
}

/**
 * The options a result is made with, as sorted JSON: every option after its
 * default (so `split=false` and nothing are one request), and not `no_cache`
 * or `destination`, which say how to run a task and where its result also
 * goes, not what it is.
 */
export const optionsFingerprint = (options: ProcessingOptions): string => {
  const { no_cache: _howToRun, destination: _whereItGoes, ...shaping } = options;
  const given = Object.entries(shaping).filter(([, value]) => value !== undefined);
  return JSON.stringify(Object.fromEntries(given.sort(([a], [b]) => (a < b ? -1 : 1))));
};

/**
 * A task's key, computed before its bytes are parsed (the sandbox may take
 * them): SHA-256 over the SHA-256 of the bytes and everything else the
 * result holds or depends on. `filename` and `source` are in the result's
 * metadata; the content type can decide the format.
 */
export const resultCacheKey = ({ owner, input, options, limits }: CacheKeyParts): string => {
  const bytes = createHash('sha256').update(input.bytes).digest('hex');
  return createHash('sha256')
    .update(
      JSON.stringify([
        RESULT_CACHE_VERSION,
        owner,
        bytes,
        input.filename,
        input.source ?? input.filename,
        input.contentType ?? null,
        optionsFingerprint(options),
        limits.maxInputBytes,
        limits.maxPages,
      ]),
    )
    .digest('hex');
};

/** What a task's result looked up in the cache became: the copy it now has, or nothing usable. */
export type CacheLookup = { hit: true; result: ResultPointer } | { hit: false };

/**
 * The entry under `key`, if it is live, copied to `target` so that the task
 * has a result object of its own (which expires with it, not with the task
 * it came from). An entry past its time, or whose object is gone, is a miss.
 */
export const reuseCachedResult = async (
  deps: { cache: ResultCache; blobs: Pick<BlobStore, 'copy'>; clock: Clock },
  key: string,
  target: { bucket: string; key: string; figureKey?: (figureId: string) => string },
): Promise<CacheLookup> => {
  const entry = await deps.cache.get(key);
  if (!entry || !(Date.parse(entry.expires_at) > deps.clock.now().getTime())) return { hit: false };
  // Results are only ever written to the service bucket: an entry naming another is not ours to copy.
  if (entry.result.bucket !== target.bucket) return { hit: false };
  // Its figures first, so that a task seen finished finds every one; one missing is a miss.
  for (const from of entry.figure_keys ?? []) {
    const figureId = from.slice(from.lastIndexOf('/') + 1);
    if (!target.figureKey || !(await deps.blobs.copy(target.bucket, from, target.figureKey(figureId)))) {
      return { hit: false };
    }
  }
  if (!(await deps.blobs.copy(target.bucket, entry.result.key, target.key))) return { hit: false };
  return { hit: true, result: { ...entry.result, key: target.key } };
};

/** The entry for a result just stored: it lives `ttlSeconds` from now. */
export const cacheEntryFor = (
  result: ResultPointer,
  now: Date,
  ttlSeconds: number,
  figureKeys: readonly string[] = [],
): CacheEntry => ({
  result,
  expires_at: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
  ...(figureKeys.length ? { figure_keys: [...figureKeys] } : {}),
});
