import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { listenLocally } from './aws-json-service.js';

/**
 * The Bedrock Agent API's StartIngestionJob for the embedded stack (REST
 * JSON, as the SDK sends it: `PUT /knowledgebases/{id}/datasources/{id}/ingestionjobs/`).
 * It records each job and answers STARTING, with one job per client token as
 * Bedrock keeps it; nothing is indexed. Who may call it is decided before a
 * call gets here, by the calling function's IAM check (local/iam.ts).
 */
export interface LocalIngestionJob {
  knowledgeBaseId: string;
  dataSourceId: string;
  ingestionJobId: string;
  clientToken: string;
  description: string;
  status: 'STARTING';
  startedAt: string;
}

export interface LocalKnowledgeBases {
  /** The endpoint (`AWS_ENDPOINT_URL_BEDROCK_AGENT`). */
  url: string;
  /** The jobs started, oldest first. */
  jobs(): LocalIngestionJob[];
  close(): Promise<void>;
}

const JOB_PATH = /^\/knowledgebases\/([^/]+)\/datasources\/([^/]+)\/ingestionjobs\/?$/;
const MAX_BODY_BYTES = 64 * 1024;

export const startLocalKnowledgeBases = async (host: string): Promise<LocalKnowledgeBases> => {
  const jobs: LocalIngestionJob[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => {
      const send = (status: number, body: Record<string, unknown>, type?: string) => {
        const text = JSON.stringify(body);
        response.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          ...(type ? { 'x-amzn-errortype': type } : {}),
        });
        response.end(text);
      };
      const match = JOB_PATH.exec(new URL(request.url ?? '/', 'http://local').pathname);
      if (request.method !== 'PUT' || !match || size > MAX_BODY_BYTES) {
        send(
          400,
          { message: `${request.method ?? ''} ${request.url ?? ''} is not emulated locally.` },
          'ValidationException',
        );
        return;
      }
      let input: { clientToken?: unknown; description?: unknown };
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as typeof input;
      } catch {
        send(400, { message: 'The request body is not JSON.' }, 'ValidationException');
        return;
      }
      const [, knowledgeBaseId = '', dataSourceId = ''] = match.map(decodeURIComponent);
      const clientToken = typeof input.clientToken === 'string' ? input.clientToken : randomUUID();
      let job = jobs.find((candidate) => candidate.clientToken === clientToken);
      if (!job) {
        job = {
          knowledgeBaseId,
          dataSourceId,
          ingestionJobId: randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase(),
          clientToken,
          description: typeof input.description === 'string' ? input.description : '',
          status: 'STARTING',
          startedAt: new Date().toISOString(),
        };
        jobs.push(job);
      }
      const { clientToken: _token, ...shown } = job;
      send(202, { ingestionJob: { ...shown, updatedAt: job.startedAt } });
    });
  });
  return { ...(await listenLocally(server, host)), jobs: () => jobs.map((job) => ({ ...job })) };
};
