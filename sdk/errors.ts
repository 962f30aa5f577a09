/**
 * One error type for everything the SDK throws. `code` is the service's
 * stable UPPER_SNAKE code when the service answered with one, or one of the
 * SDK's own codes below when it could not say (no answer, a proxy's page,
 * a deadline, an abort).
 */

/** Codes the SDK itself assigns; every other code comes from the service's error body. */
export const SDK_ERROR_CODES = [
  /** No HTTP answer: refused, reset, DNS, or no answer within `requestTimeoutMs`. */
  'SERVICE_UNREACHABLE',
  /** An HTTP error whose body is not the service's `{"error": {...}}` (a proxy, a load balancer). */
  'HTTP_ERROR',
  /** 429 without the service's body: API Gateway throttling or a usage plan's quota. */
  'THROTTLED',
  /** 401/403 without the service's body: API Gateway refusing the API key. */
  'UNAUTHORIZED',
  /** A 2xx whose body is not the JSON the contract promises. */
  'INVALID_RESPONSE',
  /** The presigned PUT of a large file was refused by storage. */
  'UPLOAD_FAILED',
  /** A local file that cannot be read (missing, a directory, no permission). */
  'FILE_NOT_READABLE',
  /** `waitForTask`/`waitForBatch` passed `timeoutMs`, or a transfer (presigned PUT, `result_url`) stalled past `transferIdleTimeoutMs`. */
  'TIMEOUT',
  /** The caller's AbortSignal fired. */
  'ABORTED',
  /** `getResult` on a task that is not SUCCESS (a FAILURE carries its own code instead). */
  'TASK_NOT_FINISHED',
  'TASK_REVOKED',
  /** `parseWebhook`: missing headers, a stale timestamp or no matching signature. */
  'WEBHOOK_INVALID',
] as const;

export type SdkErrorCode = (typeof SDK_ERROR_CODES)[number];

export interface DocprocErrorOptions {
  status?: number;
  retryable?: boolean;
  requestId?: string;
  details?: unknown;
  cause?: unknown;
}

export class DocprocError extends Error {
  /** The service's code (`TASK_NOT_FOUND`, `VALIDATION_ERROR`, …) or an `SdkErrorCode`. */
  readonly code: string;
  /** HTTP status, when there was an answer. */
  readonly status: number | undefined;
  /** Whether the same call may succeed later (the SDK has already retried the calls it may). */
  readonly retryable: boolean;
  /** The request id a 5xx message quotes: give it when reporting the error. */
  readonly requestId: string | undefined;
  /** `details` of a validation error: one `{field, message}` per problem. */
  readonly details: unknown;
  /** How many attempts the SDK made before giving up (set by the client; 1 when it did not retry). */
  attempts = 1;

  constructor(code: string, message: string, options: DocprocErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DocprocError';
    this.code = code;
    this.status = options.status;
    this.retryable = options.retryable ?? false;
    this.requestId = options.requestId;
    this.details = options.details;
  }
}

export const isDocprocError = (error: unknown): error is DocprocError => error instanceof DocprocError;

/** 429 and 5xx may pass; 501 (not implemented) never will. */
export const isRetryableStatus = (status: number): boolean =>
  status === 429 || (status >= 500 && status <= 599 && status !== 501);

const REQUEST_ID_IN_MESSAGE = /request id ([A-Za-z0-9-]+)/i;
const REQUEST_ID_HEADERS = ['x-amzn-requestid', 'x-amz-apigw-id', 'x-request-id'];

/** At most this much of a body that is not the service's goes into a message. */
const SNIPPET_CHARS = 200;

interface ServiceErrorBody {
  error: { code: string; message?: string; retryable?: boolean; details?: unknown };
}

const isServiceErrorBody = (body: unknown): body is ServiceErrorBody => {
  const error = (body as { error?: { code?: unknown } } | null)?.error;
  return typeof error === 'object' && error !== null && typeof error.code === 'string';
};

/**
 * The DocprocError for a non-2xx answer: the service's body when it is one,
 * else a code from the status. `retryable` is the body's when it says, else
 * the status's.
 */
export const errorFromResponse = (status: number, headers: Headers, text: string, what: string): DocprocError => {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const headerId = REQUEST_ID_HEADERS.map((name) => headers.get(name)).find(Boolean) ?? undefined;
  if (isServiceErrorBody(body)) {
    const { code, message = `HTTP ${status}`, retryable, details } = body.error;
    return new DocprocError(code, message, {
      status,
      retryable: retryable ?? isRetryableStatus(status),
      requestId: REQUEST_ID_IN_MESSAGE.exec(message)?.[1] ?? headerId,
      details,
    });
  }
  const code = status === 429 ? 'THROTTLED' : status === 401 || status === 403 ? 'UNAUTHORIZED' : 'HTTP_ERROR';
  // API Gateway's own answers are {"message": "..."}; a proxy's are HTML or text.
  const gatewayMessage = (body as { message?: unknown } | undefined)?.message;
  const snippet =
    typeof gatewayMessage === 'string' ? gatewayMessage : text.replace(/\s+/g, ' ').trim().slice(0, SNIPPET_CHARS);
  return new DocprocError(code, `${what}: HTTP ${status}${snippet ? `: ${snippet}` : ''}`, {
    status,
    retryable: isRetryableStatus(status),
    requestId: headerId,
  });
};

/** Node's fetch says "fetch failed" and puts the reason in `cause`; its code is what helps. */
export const networkCodeOf = (error: unknown): string | undefined => {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
};

/** Failures that happen before a request is sent: repeating even a non-idempotent call is safe. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
export const wasNotSent = (error: unknown): boolean => NOT_SENT_CODES.has(networkCodeOf(error) ?? '');

export const unreachable = (what: string, error: unknown, timeoutMs?: number): DocprocError => {
  const reason =
    timeoutMs !== undefined
      ? `no answer within ${timeoutMs} ms`
      : (networkCodeOf(error) ?? ((error as Error | undefined)?.message || 'network error'));
  return new DocprocError('SERVICE_UNREACHABLE', `${what}: the service cannot be reached (${reason}).`, {
    retryable: true,
    cause: error,
  });
};

export const aborted = (signal: AbortSignal): DocprocError =>
  new DocprocError('ABORTED', 'The operation was aborted.', { cause: signal.reason });
