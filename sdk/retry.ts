import { aborted } from './errors.js';

/** How the SDK repeats a call that failed for a reason that may pass. */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 5). 1 turns retrying off. */
  maxAttempts: number;
  /** The first delay's ceiling (default 500 ms); each later one doubles it. */
  baseDelayMs: number;
  /** No delay is longer than this (default 10 s). */
  maxDelayMs: number;
  /** A `Retry-After` longer than this is not waited for: the error goes to the caller (default 60 s). */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
};

/**
 * The delay after the `failures`-th failed attempt: exponential, capped, and
 * jittered over the upper half ("equal jitter"), so that clients failing
 * together do not come back together, yet each delay still grows.
 */
export const backoffDelay = (policy: RetryPolicy, failures: number, random: () => number): number => {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
};

/** `Retry-After` as milliseconds from now: whole seconds or an HTTP date (RFC 9110). */
export const retryAfterMs = (value: string | null, now: number): number | undefined => {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
};

/** A pause that an AbortSignal cuts short (with DocprocError ABORTED). */
export const abortableSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(aborted(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
