import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { GATEWAY_RESPONSES, ROUTES, type RouteHandler } from '../shared/definitions.js';
import { InvocationTimeout, RequestTooLarge, type FunctionRuntime } from './lambda-runtime.js';

/** API Gateway REST API limits and behaviour the local gateway reproduces. */
export const GATEWAY = {
  stage: 'v1',
  maxRequestBytes: 10 * 1024 * 1024,
  integrationTimeoutMs: 29_000,
  minCompressionBytes: 1024,
  binaryMediaTypes: ['multipart/form-data'],
} as const;

export interface GatewayOptions {
  host: string;
  port: number;
  routes: Record<RouteHandler, FunctionRuntime>;
  /** Accepted `x-api-key` values; empty or undefined: no key (apiAuth none). */
  apiKeys?: readonly string[] | undefined;
  corsOrigins?: string[];
  /** After each API request: its status and latency (API Gateway's Count, 4XXError, 5XXError, Latency). */
  onApiResponse?: (status: number, latencyMs: number) => void;
  /** Paths outside the API (the local monitoring page); return true when handled. */
  extra?: (request: IncomingMessage, response: ServerResponse, body: Buffer) => Promise<boolean>;
}

const compiled = ROUTES.map((route) => {
  const resource = `/${route.path}`;
  const pattern = new RegExp(`^${resource.replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}/?$`);
  return { ...route, resource, pattern };
});

/**
 * The id API Gateway puts in `requestContext.identity.apiKeyId` for a key:
 * derived from the key, so that tasks kept in a data dir keep their owner
 * across restarts, and never the key itself.
 */
export const localApiKeyId = (key: string): string =>
  `local-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;

/** The error bodies API Gateway answers itself with (see the gateway responses of the CDK Api construct). */
const gatewayError = (response: ServerResponse, status: number, code: string, message: string) => {
  const body = JSON.stringify({ error: { code, message } });
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
};

const readBody = (request: IncomingMessage): Promise<Buffer | undefined> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > GATEWAY.maxRequestBytes) {
        resolve(undefined);
        request.resume();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(size > GATEWAY.maxRequestBytes ? undefined : Buffer.concat(chunks)));
    request.on('error', reject);
  });

const multiValue = (pairs: Array<[string, string]>) => {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [key, value] of pairs) {
    single[key] = value;
    (multi[key] ??= []).push(value);
  }
  return { single, multi };
};

/** The REST (v1) proxy event API Gateway would send for this request. */
export const toProxyEvent = (
  request: IncomingMessage,
  url: URL,
  body: Buffer,
  resource: string,
  pathParameters: Record<string, string> | null,
  apiKeyId: string | null,
): APIGatewayProxyEvent => {
  const headerPairs: Array<[string, string]> = [];
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    headerPairs.push([request.rawHeaders[index] ?? '', request.rawHeaders[index + 1] ?? '']);
  }
  const headers = multiValue(headerPairs);
  const query = multiValue([...url.searchParams.entries()]);
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const binary = (GATEWAY.binaryMediaTypes as readonly string[]).includes(contentType);
  const requestId = randomUUID();
  return {
    resource,
    path: url.pathname,
    httpMethod: request.method ?? 'GET',
    headers: headers.single,
    multiValueHeaders: headers.multi,
    queryStringParameters: url.searchParams.size ? query.single : null,
    multiValueQueryStringParameters: url.searchParams.size ? query.multi : null,
    pathParameters,
    stageVariables: null,
    body: body.length ? (binary ? body.toString('base64') : body.toString('utf8')) : null,
    isBase64Encoded: binary && body.length > 0,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: request.method ?? 'GET',
      path: `/${GATEWAY.stage}${url.pathname}`,
      stage: GATEWAY.stage,
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: resource,
      identity: {
        apiKey: null,
        apiKeyId,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: request.headers['user-agent'] ?? null,
        accessKey: null,
        accountId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        user: null,
        userArn: null,
      },
    },
  };
};

const send = (request: IncomingMessage, response: ServerResponse, result: APIGatewayProxyResult) => {
  let body: Buffer = result.isBase64Encoded
    ? Buffer.from(result.body, 'base64')
    : Buffer.from(result.body ?? '', 'utf8');
  const headers: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(result.headers ?? {})) headers[key.toLowerCase()] = String(value);
  for (const [key, values] of Object.entries(result.multiValueHeaders ?? {}))
    headers[key.toLowerCase()] = values.map(String);
  const acceptsGzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
  if (acceptsGzip && body.length >= GATEWAY.minCompressionBytes && !headers['content-encoding']) {
    body = gzipSync(body);
    headers['content-encoding'] = 'gzip';
  }
  headers['content-length'] = String(body.length);
  response.writeHead(result.statusCode, headers);
  response.end(body);
};

/**
 * API Gateway in front of the route functions, as the CDK stack configures
 * it: REST proxy events, binary multipart bodies, the 10 MB request limit,
 * the 29 s integration timeout, the API key check, gzip above 1 KB.
 */
export const startGateway = async (
  options: GatewayOptions,
): Promise<{ server: Server; url: string; close(): Promise<void> }> => {
  const keyIds = options.apiKeys?.length
    ? new Map(options.apiKeys.map((key) => [key, localApiKeyId(key)] as const))
    : undefined;
  const server = createServer((request, response) => {
    const startedAt = Date.now();
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      if (request.method === 'OPTIONS' && options.corsOrigins?.length) {
        const origin = String(request.headers.origin ?? '');
        response.writeHead(204, {
          ...(options.corsOrigins.includes(origin) || options.corsOrigins.includes('*')
            ? { 'access-control-allow-origin': origin }
            : {}),
          'access-control-allow-methods': 'GET,POST,OPTIONS',
          'access-control-allow-headers': 'Content-Type,X-Api-Key,Idempotency-Key,Authorization',
        });
        response.end();
        return;
      }
      const body = await readBody(request);
      if (body === undefined) {
        const { status, code, message } = GATEWAY_RESPONSES.requestTooLarge;
        return gatewayError(response, status, code, message);
      }
      if (options.extra && (await options.extra(request, response, body))) return;
      response.once('finish', () => options.onApiResponse?.(response.statusCode, Date.now() - startedAt));

      const route = compiled.find(
        (candidate) => candidate.method === request.method && candidate.pattern.test(url.pathname),
      );
      if (!route) return gatewayError(response, 403, 'MISSING_AUTHENTICATION_TOKEN', 'Missing Authentication Token');
      const apiKeyId = keyIds?.get(String(request.headers['x-api-key'] ?? '')) ?? null;
      if (keyIds && apiKeyId === null) return gatewayError(response, 403, 'INVALID_API_KEY', 'Forbidden');
      const match = route.pattern.exec(url.pathname);
      const pathParameters = match?.groups ? { ...match.groups } : null;
      const event = toProxyEvent(request, url, body, route.resource, pathParameters, apiKeyId);
      try {
        const result = await options.routes[route.handler].invoke<APIGatewayProxyResult>(event, {
          requestId: event.requestContext.requestId,
          timeoutMs: GATEWAY.integrationTimeoutMs,
        });
        send(request, response, result);
      } catch (error) {
        if (error instanceof InvocationTimeout)
          return gatewayError(response, 504, 'INTEGRATION_TIMEOUT', 'Endpoint request timed out');
        if (error instanceof RequestTooLarge) {
          // Lambda refuses the invocation; API Gateway answers with its REQUEST_TOO_LARGE response.
          const { status, code, message } = GATEWAY_RESPONSES.requestTooLarge;
          return gatewayError(response, status, code, message);
        }
        console.error(String(error));
        return gatewayError(response, 502, 'BAD_GATEWAY', 'Internal server error');
      }
    })().catch((error: unknown) => {
      console.error(error);
      if (!response.headersSent) gatewayError(response, 500, 'INTERNAL_ERROR', 'Internal server error');
    });
  });
  server.headersTimeout = 30_000;
  server.maxHeadersCount = 200;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host === '0.0.0.0' ? 'localhost' : options.host;
  return {
    server,
    url: `http://${host}:${port}`,
    // Stop accepting, let requests under way finish (a few seconds at most), drop idle keep-alives.
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), 5_000);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
};
