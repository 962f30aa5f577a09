import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Secrets Manager for the embedded stack: GetSecretValue, over the AWS JSON
 * protocol the SDK speaks, for the secrets the stack holds (the webhook
 * signing secret). Who may read a secret is decided before a call gets here,
 * by the calling function's IAM check (local/iam.ts), as on AWS.
 */
export interface LocalSecret {
  /** The complete ARN (with Secrets Manager's six-character suffix), as the functions are given it. */
  arn: string;
  name: string;
  value: string;
}

export interface LocalSecretsManager {
  /** The endpoint (`AWS_ENDPOINT_URL_SECRETS_MANAGER`). */
  url: string;
  close(): Promise<void>;
}

const readBody = async (request: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

const reply = (response: ServerResponse, status: number, body: Record<string, unknown>) => {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    ...(status >= 400 ? { 'x-amzn-errortype': String(body.__type) } : {}),
  });
  response.end(text);
};

const error = (response: ServerResponse, type: string, message: string) =>
  reply(response, 400, { __type: type, Message: message });

export const startSecretsManager = async (
  host: string,
  secrets: readonly LocalSecret[],
): Promise<LocalSecretsManager> => {
  const versionId = randomUUID();
  const createdDate = Date.now() / 1000;
  const server = createServer((request, response) => {
    void (async () => {
      const target = String(request.headers['x-amz-target'] ?? '');
      let input: { SecretId?: unknown };
      try {
        input = JSON.parse((await readBody(request)) || '{}') as { SecretId?: unknown };
      } catch {
        return error(response, 'SerializationException', 'The request body is not JSON.');
      }
      if (target !== 'secretsmanager.GetSecretValue') {
        return error(response, 'UnknownOperationException', `${target} is not emulated locally.`);
      }
      const secret = secrets.find((candidate) => input.SecretId === candidate.arn || input.SecretId === candidate.name);
      if (!secret)
        return error(response, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      return reply(response, 200, {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: versionId,
        SecretString: secret.value,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: createdDate,
      });
    })();
  });
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
