import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { AppError, isAppError } from '../errors.js';
import { ANONYMOUS_OWNER, TASK_ID_PATTERN } from '../core/task.js';
import { logger, publishMetrics } from '../observability.js';

export type ApiEvent = APIGatewayProxyEvent;
export type ApiResult = APIGatewayProxyResult;
export type RouteHandler = (event: ApiEvent, context: Context) => Promise<ApiResult>;

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export const json = (statusCode: number, body: unknown): ApiResult => ({
  statusCode,
  headers: { ...JSON_HEADERS },
  body: JSON.stringify(body),
});

/** Errors from middy's own middlewares carry an HTTP status (http-errors style). */
const httpStatusOf = (error: unknown): number | undefined => {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
};

/**
 * The one place errors become HTTP responses. AppErrors that may be shown go
 * out with their code and message; middleware 4xx errors become a
 * VALIDATION_ERROR (or 415); anything else is a 500 that says nothing about
 * internals, while the cause is logged with the request id.
 */
export const errorResponse = (error: unknown, requestId: string): ApiResult => {
  if (isAppError(error) && error.expose) {
    const details = error.details === undefined ? {} : { details: error.details };
    return json(error.status, { error: { code: error.code, message: error.message, ...details } });
  }
  const status = httpStatusOf(error);
  if (!isAppError(error) && status !== undefined && status >= 400 && status < 500) {
    const code = status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'VALIDATION_ERROR';
    const message = (error as Error).message || 'Invalid request';
    return json(status === 415 ? 415 : 400, { error: { code, message } });
  }
  logger.error('Request failed', { error: error as Error, request_id: requestId });
  return json(500, {
    error: { code: 'INTERNAL_ERROR', message: `Internal error. Quote request id ${requestId} when reporting it.` },
  });
};

const requestIdOf = (request: middy.Request<ApiEvent, ApiResult>): string =>
  request.event.requestContext?.requestId ?? request.context.awsRequestId;

/** What the wrapper reads of a route's dependencies: the allowed CORS origins (none: CORS off). */
export interface HttpDeps {
  config: { CORS_ORIGINS: readonly string[] };
}

/** API Gateway's proxy integration leaves CORS response headers to the function. */
const withCors = (request: middy.Request<ApiEvent, ApiResult>, deps: () => HttpDeps) => {
  const origin = header(request.event, 'origin');
  if (!origin || !request.response) return;
  let allowed: readonly string[];
  try {
    allowed = deps().config.CORS_ORIGINS;
  } catch {
    return; // the configuration itself failed: that error is the response
  }
  if (!(allowed.includes(origin) || allowed.includes('*'))) return;
  request.response.headers = { ...request.response.headers, 'access-control-allow-origin': origin, vary: 'Origin' };
};

/** Request id on every log line; errors mapped to responses in one place. */
const requestScope = (deps: () => HttpDeps): middy.MiddlewareObj<ApiEvent, ApiResult> => ({
  before: (request) => {
    logger.appendKeys({ request_id: requestIdOf(request) });
  },
  onError: (request) => {
    request.response = errorResponse(request.error, requestIdOf(request));
    withCors(request, deps);
    publishMetrics();
    logger.resetKeys();
  },
  after: (request) => {
    withCors(request, deps);
    publishMetrics();
    logger.resetKeys();
  },
});

/** Wraps a route: normalised headers, then the route's own middlewares. */
export const httpHandler = (
  deps: () => HttpDeps,
  route: RouteHandler,
  ...before: middy.MiddlewareObj<ApiEvent, ApiResult>[]
) =>
  middy<ApiEvent, ApiResult>()
    .use(injectLambdaContext(logger))
    .use(httpHeaderNormalizer())
    .use(requestScope(deps))
    .use(before)
    .handler(route);

export const header = (event: ApiEvent, name: string): string | undefined => {
  const value = event.headers?.[name.toLowerCase()];
  return value === null ? undefined : value;
};

export const mediaType = (event: ApiEvent): string =>
  (header(event, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';

export const rawBody = (event: ApiEvent): Buffer =>
  Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');

/** JSON or form bodies (the original Python client posts a form). */
export const readFields = (event: ApiEvent): Record<string, unknown> => {
  const type = mediaType(event);
  const body = rawBody(event).toString('utf8');
  if (type === 'application/json' || type.endsWith('+json')) {
    let parsed: unknown;
    try {
      parsed = body.trim() ? JSON.parse(body) : {};
    } catch {
      throw new AppError('VALIDATION_ERROR', 'The body is not valid JSON.');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new AppError('VALIDATION_ERROR', 'The JSON body must be an object.');
    }
    return parsed as Record<string, unknown>;
  }
  if (type === 'application/x-www-form-urlencoded') {
    const fields: Record<string, unknown> = {};
    for (const [key, value] of new URLSearchParams(body)) {
      if (key in fields) throw new AppError('VALIDATION_ERROR', `${key}: given more than once`);
      fields[key] = value;
    }
    return fields;
  }
  throw new AppError(
    'UNSUPPORTED_MEDIA_TYPE',
    `Content-Type ${type || '(none)'} is not accepted here; send application/json or application/x-www-form-urlencoded.`,
  );
};

/**
 * Who is calling: the id of the API key API Gateway verified, or
 * `anonymous` when the API takes no keys. Tasks and idempotency keys belong
 * to it.
 */
export const callerOf = (event: ApiEvent): string => event.requestContext?.identity?.apiKeyId || ANONYMOUS_OWNER;

/** 1–128 printable ASCII characters, not starting or ending with a space. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/;

export const idempotencyKeyOf = (event: ApiEvent): string | undefined => {
  const key = header(event, 'idempotency-key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new AppError('VALIDATION_ERROR', 'Idempotency-Key: must be 1–128 printable ASCII characters.', {
      details: [{ field: 'Idempotency-Key', message: 'invalid' }],
    });
  }
  return key;
};

/** `{task_id}` from the path; a value that cannot be a task id is a 404 like any unknown id. */
export const taskIdOf = (event: ApiEvent): string => {
  const id = event.pathParameters?.task_id ?? '';
  if (!TASK_ID_PATTERN.test(id)) throw new AppError('TASK_NOT_FOUND', `No task with id ${id.slice(0, 64)}.`);
  return id.toLowerCase();
};
