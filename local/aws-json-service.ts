import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A service of the embedded stack that speaks AWS's JSON protocol (what the
 * SDK sends to EventBridge and Secrets Manager): a POST whose
 * `x-amz-target` names the operation, a JSON body, a JSON answer, errors as
 * `{"__type", "message"}` with `x-amzn-errortype`. Bodies are capped, as
 * AWS caps them; a body that is not JSON is a SerializationException.
 */
export type AwsJsonOperation = (input: Record<string, unknown>) => Record<string, unknown>;

/** An error an operation answers with (400, as AWS answers client errors in this protocol). */
export class AwsJsonError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export interface AwsJsonService {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) request.destroy(new Error('request too large'));
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });

const reply = (response: ServerResponse, status: number, body: Record<string, unknown>) => {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    ...(status >= 400 ? { 'x-amzn-errortype': String(body.__type) } : {}),
  });
  response.end(text);
};

const answer = async (
  request: IncomingMessage,
  operations: Record<string, AwsJsonOperation>,
): Promise<[number, Record<string, unknown>]> => {
  const target = String(request.headers['x-amz-target'] ?? '');
  let input: unknown;
  try {
    input = JSON.parse((await readBody(request)) || '{}');
  } catch {
    return [400, { __type: 'SerializationException', message: 'The request body is not JSON.' }];
  }
  const operation = request.method === 'POST' ? operations[target] : undefined;
  if (!operation) return [400, { __type: 'UnknownOperationException', message: `${target} is not emulated locally.` }];
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    return [400, { __type: 'SerializationException', message: 'The request body is not a JSON object.' }];
  }
  try {
    return [200, operation(input as Record<string, unknown>)];
  } catch (error) {
    if (!(error instanceof AwsJsonError)) throw error;
    return [400, { __type: error.type, message: error.message }];
  }
};

export const startAwsJsonService = async (
  host: string,
  operations: Record<string, AwsJsonOperation>,
): Promise<AwsJsonService> => {
  const server = createServer((request, response) => {
    answer(request, operations).then(
      ([status, body]) => reply(response, status, body),
      () => reply(response, 500, { __type: 'InternalFailure', message: 'The local service failed.' }),
    );
  });
  return listenLocally(server, host);
};

/** A local service's server on a free port of `host`: its URL, and a close that ends open connections too. */
export const listenLocally = async (server: Server, host: string): Promise<AwsJsonService> => {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
