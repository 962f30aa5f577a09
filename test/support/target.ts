import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/stack.js';
import { corpusPath } from './corpus.js';

export interface Target {
  /** Base URL of the document API (`…/documents/async`). */
  apiUrl: string;
  /** `POST /documents/preview`, the document API's synchronous sibling. */
  previewUrl: string;
  headers: Record<string, string>;
  /** The embedded stack, when the suite started one (local-only tests need it). */
  local?: LocalStack;
  stop(): Promise<void>;
}

/**
 * The service under test: a deployment when API_URL is set (API_KEY with it),
 * otherwise the embedded stack, started on free ports for this file.
 */
export const startTarget = async (options: LocalStackOptions = {}): Promise<Target> => {
  const remote = process.env.API_URL;
  if (remote) {
    const apiUrl = remote.replace(/\/$/, '');
    return {
      apiUrl,
      // The deployment's ApiUrl output is the document API's base; preview is its sibling.
      previewUrl: new URL('../preview', `${apiUrl}/`).href,
      headers: process.env.API_KEY ? { 'x-api-key': process.env.API_KEY } : {},
      stop: async () => {},
    };
  }
  const local = await startLocalStack({ port: 0, allowPrivateUrls: true, ...options });
  return {
    apiUrl: local.apiUrl,
    previewUrl: local.previewUrl,
    headers: options.apiKeys?.[0] ? { 'x-api-key': options.apiKeys[0] } : {},
    local,
    stop: () => local.stop(),
  };
};

export const isRemote = () => Boolean(process.env.API_URL);

export interface Api {
  get(path: string): Promise<Response>;
  post(path: string, body?: RequestInit['body'], headers?: Record<string, string>): Promise<Response>;
  postJson(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  upload(file: string, fields?: Record<string, string>, headers?: Record<string, string>): Promise<Response>;
  /** `POST /documents/preview` with a body as `post` takes it (a FormData, or JSON with its content type). */
  preview(body: RequestInit['body'], headers?: Record<string, string>): Promise<Response>;
  waitFor(taskId: string, statuses?: string[], timeoutMs?: number): Promise<Record<string, any>>;
}

/** A multipart body as a client uploads a corpus file: `file` (named as on disk) and the options as fields. */
export const corpusForm = (file: string, fields: Record<string, string> = {}): FormData => {
  const form = new FormData();
  form.append('file', new Blob([readFileSync(corpusPath(file))]), file.split('/').pop());
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  return form;
};

export const apiClient = (target: Target): Api => {
  const url = (path: string) => `${target.apiUrl}${path}`;
  const api: Api = {
    get: (path) => fetch(url(path), { headers: target.headers }),
    post: (path, body, headers = {}) =>
      fetch(url(path), { method: 'POST', body, headers: { ...target.headers, ...headers } }),
    postJson: (path, body, headers = {}) =>
      api.post(path, JSON.stringify(body), { 'content-type': 'application/json', ...headers }),
    upload: (file, fields = {}, headers = {}) => api.post('/upload', corpusForm(file, fields), headers),
    preview: (body, headers = {}) =>
      fetch(target.previewUrl, { method: 'POST', body, headers: { ...target.headers, ...headers } }),
    /** Polls until the task reaches one of `statuses` (terminal ones by default). */
    waitFor: async (taskId, statuses = ['SUCCESS', 'FAILURE', 'REVOKED'], timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const response = await api.get(`/tasks/${taskId}`);
        const body = (await response.json()) as Record<string, any>;
        if (statuses.includes(body.status as string)) return body;
        if (Date.now() > deadline) throw new Error(`task ${taskId} still ${body.status} after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
  return api;
};

/** A local HTTP server for URL sources: corpus files, redirects, and requests held until released. */
export const startFixtureServer = async () => {
  const held = new Map<string, () => void>();
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://fixture');
    if (url.pathname.startsWith('/corpus/')) {
      try {
        const body = readFileSync(corpusPath(decodeURIComponent(url.pathname.slice('/corpus/'.length))));
        response.writeHead(200, { 'content-length': body.length });
        response.end(body);
      } catch {
        response.writeHead(404).end();
      }
      return;
    }
    if (url.pathname.startsWith('/redirect/')) {
      response.writeHead(302, { location: `/corpus/${url.pathname.slice('/redirect/'.length)}` }).end();
      return;
    }
    if (url.pathname.startsWith('/hold/')) {
      // Answers only once released: keeps a task STARTED (stage fetching) for as long as a test needs.
      const name = url.pathname.slice('/hold/'.length);
      held.set(name, () => {
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end(`released ${name}`);
      });
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    release: (name: string) => {
      held.get(name)?.();
      held.delete(name);
    },
    isHeld: (name: string) => held.has(name),
    close: () =>
      new Promise<void>((resolve) => {
        for (const release of held.values()) release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
