import type { lookup as dnsLookup } from 'node:dns';
import { AppError } from '../errors.js';
import type { PostWebhook } from '../core/ports.js';
import { checkUrl, type UrlPolicy } from '../core/url-policy.js';
import { connectionProblem, FORBIDDEN_ADDRESS, pinnedRequest } from './pinned-http.js';

export interface WebhookPostOptions {
  /** The address policy of URL sources: callback URLs pass the same checks. */
  policy: UrlPolicy;
  /** The whole exchange, connecting included. */
  timeoutMs: number;
  /** DNS lookup; `dns.lookup` unless a test gives another. */
  lookup?: typeof dnsLookup | undefined;
}

const TIMED_OUT = 'ETIMEDOUT';

/** Why an attempt got no answer, in words the task's owner may read: no resolved address, no errno code. */
const failureOf = (error: unknown, timeoutMs: number): string => {
  if (error instanceof AppError) return error.message;
  const code = (error as { code?: string }).code;
  if (code === FORBIDDEN_ADDRESS) {
    return "The callback URL's host resolves to an address the service does not send to (private, loopback, link-local or reserved).";
  }
  if (code === TIMED_OUT || (error as Error).name === 'AbortError' || (error as Error).name === 'TimeoutError') {
    return `No answer within ${timeoutMs / 1000} s.`;
  }
  return `The callback URL could not be reached: ${connectionProblem(code)}.`;
};

/**
 * POSTs webhooks with the SSRF protection of URL sources, at every attempt:
 * the URL checked, its host resolved and every address checked, the socket
 * pinned to the address checked (a name that now resolves elsewhere is
 * refused). Redirects are not followed: a 3xx is an answer like any non-2xx.
 * The receiver's body is not read.
 */
export const webhookPoster =
  (options: WebhookPostOptions): PostWebhook =>
  async (url, request) => {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const response = await pinnedRequest(checkUrl(url, options.policy), {
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
        body: request.body,
        policy: options.policy,
        lookup: options.lookup,
        connectTimeoutMs: options.timeoutMs,
        connectTimeoutError: () => Object.assign(new Error('connect timeout'), { code: TIMED_OUT }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      response.destroy();
      return { status_code: response.statusCode ?? 0, duration_ms: elapsed() };
    } catch (error) {
      return { error: failureOf(error, options.timeoutMs), duration_ms: elapsed() };
    }
  };
