import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { addressProblem, type UrlPolicy } from '../core/url-policy.js';

/**
 * HTTP requests to URLs a client gave (URL sources, callback URLs) under the
 * address policy of core/url-policy.ts: the name is resolved, every address
 * checked, and the socket connects to the address that was checked.
 */

/** The error code a refused address is reported with (never the address itself: it stays in the cause). */
export const FORBIDDEN_ADDRESS = 'EFORBIDDENADDRESS';

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
        return callback(Object.assign(new Error(refused ?? 'no address'), { code: FORBIDDEN_ADDRESS }), '', 4);
      }
      if (options.all) return callback(null, list);
      const first = list[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  };

/** What a network error means, in words: errno codes stay in the logs. */
export const connectionProblem = (code: string | undefined): string => {
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'its host name does not resolve';
  if (code === 'ECONNREFUSED') return 'the connection was refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'the connection was reset';
  if (code === 'ETIMEDOUT') return 'the connection timed out';
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT') || code?.startsWith('ERR_SSL')) {
    return 'its TLS certificate or handshake was refused';
  }
  return 'the connection failed';
};

export interface PinnedRequestOptions {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string | undefined;
  policy: UrlPolicy;
  /** DNS lookup; `dns.lookup` unless a test gives another. */
  lookup?: typeof dnsLookup | undefined;
  /** Until the TCP (and TLS) connection is up. */
  connectTimeoutMs: number;
  /** What a connection that is not up in time fails with. */
  connectTimeoutError: () => Error;
  /** Ends the whole exchange (the caller's overall deadline). */
  signal: AbortSignal;
}

/**
 * One request, resolved with the response as soon as its head arrives (the
 * caller reads or drops the body). The URL itself must have passed checkUrl.
 */
export const pinnedRequest = (url: URL, options: PinnedRequestOptions) =>
  new Promise<IncomingMessage>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, {
      method: options.method,
      lookup: guardedLookup(options.policy, options.lookup),
      signal: options.signal,
      headers: options.headers,
    });
    const connectTimer = setTimeout(() => request.destroy(options.connectTimeoutError()), options.connectTimeoutMs);
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
    request.end(options.body);
  });
