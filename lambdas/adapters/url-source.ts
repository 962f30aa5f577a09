import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { AppError } from '../core/errors.js';
import type { FetchedSource, FetchSource, SourceFetchLimits } from '../core/ports.js';
import { addressProblem, checkUrl, type UrlPolicy } from '../core/url-policy.js';

export interface FetchLimits extends SourceFetchLimits {
  /** DNS lookup; `dns.lookup` unless a test gives another. */
  lookup?: typeof dnsLookup;
}

/** What a network error means, in words: errno codes stay in the logs. */
const connectionProblem = (code: string | undefined): string => {
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'its host name does not resolve';
  if (code === 'ECONNREFUSED') return 'the connection was refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'the connection was reset';
  if (code === 'ETIMEDOUT') return 'the connection timed out';
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT') || code?.startsWith('ERR_SSL')) {
    return 'its TLS certificate or handshake was refused';
  }
  return 'the connection failed';
};

const failed = (message: string, cause?: unknown) =>
  new AppError('SOURCE_FETCH_FAILED', message, cause === undefined ? {} : { cause });

/**
 * DNS lookup that refuses forbidden addresses. The socket connects to the
 * address returned here, so the address checked is the address used: no
 * window for DNS rebinding between a check and the connection.
 */
export const guardedLookup =
  (policy: UrlPolicy, resolve: typeof dnsLookup = dnsLookup): LookupFunction =>
  (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 4);
      const list = Array.isArray(addresses) ? addresses : [];
      const refused = list.map((entry) => addressProblem(entry.address, policy)).find(Boolean);
      if (refused || !list.length) {
        return callback(Object.assign(new Error(refused ?? 'no address'), { code: 'EFORBIDDENADDRESS' }), '', 4);
      }
      if (options.all) return callback(null, list);
      const first = list[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  };

const requestOnce = (url: URL, limits: FetchLimits, signal: AbortSignal) =>
  new Promise<IncomingMessage>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, {
      method: 'GET',
      lookup: guardedLookup(limits, limits.lookup),
      signal,
      headers: { 'user-agent': 'docproc/1.0 (+document processing service)', accept: '*/*' },
    });
    const connectTimer = setTimeout(
      () => request.destroy(failed('Connecting to the source timed out.')),
      limits.connectTimeoutMs,
    );
    request.on('socket', (socket) => {
      const connected = () => clearTimeout(connectTimer);
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
    });
    request.on('response', (response) => {
      clearTimeout(connectTimer);
      resolve(response);
    });
    request.on('error', (error) => {
      clearTimeout(connectTimer);
      reject(error);
    });
    request.end();
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
    if (code === 'EFORBIDDENADDRESS') {
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
