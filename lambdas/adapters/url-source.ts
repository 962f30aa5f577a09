import type { lookup as dnsLookup } from 'node:dns';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors.js';
import type { FetchedSource, FetchSource, SourceFetchLimits } from '../core/ports.js';
import { checkUrl } from '../core/url-policy.js';
import { connectionProblem, FORBIDDEN_ADDRESS, pinnedRequest } from './pinned-http.js';

export interface FetchLimits extends SourceFetchLimits {
  /** DNS lookup; `dns.lookup` unless a test gives another. */
  lookup?: typeof dnsLookup;
}

const failed = (message: string, cause?: unknown) =>
  new AppError('SOURCE_FETCH_FAILED', message, cause === undefined ? {} : { cause });

const requestOnce = (url: URL, limits: FetchLimits, signal: AbortSignal) =>
  pinnedRequest(url, {
    method: 'GET',
    headers: { 'user-agent': 'docproc/1.0 (+document processing service)', accept: '*/*' },
    policy: limits,
    lookup: limits.lookup,
    connectTimeoutMs: limits.connectTimeoutMs,
    connectTimeoutError: () => failed('Connecting to the source timed out.'),
    signal,
  });

const readCapped = async (response: IncomingMessage, maxBytes: number): Promise<Uint8Array> => {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw new AppError('SOURCE_TOO_LARGE', `The source is ${declared} bytes; the limit is ${maxBytes}.`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      response.destroy();
      throw new AppError('SOURCE_TOO_LARGE', `The source is larger than the limit of ${maxBytes} bytes.`);
    }
    chunks.push(chunk as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
};

/**
 * GET with SSRF protection: http(s) only, every address checked after DNS
 * resolution (and again on each redirect, at most `maxRedirects`), a byte
 * cap, and timeouts on connecting and on the whole fetch.
 */
/** The service's FetchSource: SSRF-safe (every address checked, the socket pinned to it), bounded, typed errors. */
export const fetchUrl = async (raw: string, limits: FetchLimits): Promise<FetchedSource> => {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let url = checkUrl(raw, limits);
  try {
    for (let redirects = 0; ; redirects++) {
      const response = await requestOnce(url, limits, signal);
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && response.headers.location) {
        response.resume();
        if (redirects >= limits.maxRedirects) throw failed(`More than ${limits.maxRedirects} redirects.`);
        url = checkUrl(new URL(response.headers.location, url).href, limits);
        continue;
      }
      if (status < 200 || status >= 300) {
        response.resume();
        throw failed(`The source answered HTTP ${status}.`);
      }
      const bytes = await readCapped(response, limits.maxBytes);
      return { bytes, contentType: response.headers['content-type'], finalUrl: url.href };
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    const code = (error as { code?: string }).code;
    if (code === FORBIDDEN_ADDRESS) {
      // The resolved address stays in the logs (cause); the client learns the rule, not our DNS answers.
      throw new AppError(
        'SOURCE_URL_FORBIDDEN',
        "The URL's host resolves to an address the service does not fetch from (private, loopback, link-local or reserved).",
        { cause: error },
      );
    }
    if (signal.aborted) throw failed(`Fetching the source took longer than ${limits.timeoutMs} ms.`, error);
    throw failed(`The source could not be fetched: ${connectionProblem(code)}.`, error);
  }
};

export const fetchSource: FetchSource = fetchUrl;
