import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BaseDocumentLoader } from '@langchain/core/document_loaders/base';
import { Document } from '@langchain/core/documents';
import { RunnableLambda } from '@langchain/core/runnables';
import { RecursiveCharacterTextSplitter } from '@langchain/textsplitters';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocprocClient, DocprocError, type SubmitFileOptions } from '../../sdk/client.js';
import { DocprocLoader, DocprocSourceError, type DocprocSource } from '../../sdk/langchain.js';
import { corpusPath, readCorpus } from '../support/corpus.js';
import { isRemote, startFixtureServer, startTarget, type Target } from '../support/target.js';

/**
 * sdk/langchain.ts against the embedded stack: the loader in a LangChain
 * chain with LangChain's splitter, the service's own split, source order
 * under concurrency, and a failing source thrown (named) or skipped.
 */
const KEY = 'langchain-loader-key';
const ROOT = join(import.meta.dirname, '..', '..');

let target: Target;
let fixtures: Awaited<ReturnType<typeof startFixtureServer>>;
let client: DocprocClient;

beforeAll(async () => {
  if (isRemote()) return;
  target = await startTarget({ apiKeys: [KEY] });
  fixtures = await startFixtureServer();
  client = new DocprocClient({ baseUrl: target.apiUrl, apiKey: KEY, retry: { baseDelayMs: 10 } });
});
afterAll(async () => {
  await fixtures?.close();
  await target?.stop();
});

const TEXT = 'text/norwich-city.txt';
const PDF = 'pdf/multi-column-2p.pdf';
const CHUNKING = { chunkSize: 500, chunkOverlap: 50 };

/** Each document's source file name and text, to compare runs. */
const summary = (documents: Document[]) =>
  documents.map((document) => [document.metadata.filename as string, document.pageContent]);

describe.skipIf(isRemote())('DocprocLoader (LangChain.js)', () => {
  it('is a LangChain document loader, published as docproc-serverless/sdk/langchain', async () => {
    const loader = new DocprocLoader({ client, sources: [] });
    expect(loader).toBeInstanceOf(BaseDocumentLoader);
    expect(await loader.load()).toEqual([]);
    const { exports } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(exports['./sdk/langchain']).toBe('./sdk/langchain.ts');
    // The package's own name resolves through that entry, as it will for users of the published package.
    const published = await import('docproc-serverless/sdk/langchain');
    expect(published.DocprocLoader).toBe(DocprocLoader);
  });

  it('loads two files inside a chain with RecursiveCharacterTextSplitter: chunks in source order, with the service metadata', async () => {
    const splitter = new RecursiveCharacterTextSplitter(CHUNKING);
    const chain = RunnableLambda.from((sources: DocprocSource[]) => new DocprocLoader({ client, sources }).load()).pipe(
      splitter,
    );
    const chunks = await chain.invoke([corpusPath(TEXT), corpusPath(PDF)]);

    const text = chunks.filter((chunk) => chunk.metadata.filename === 'norwich-city.txt');
    const pdf = chunks.filter((chunk) => chunk.metadata.filename === 'multi-column-2p.pdf');
    expect(text.length).toBeGreaterThan(50);
    expect(pdf.length).toBeGreaterThan(5);
    expect(text.length + pdf.length).toBe(chunks.length);
    // Source order: every chunk of the text file before any chunk of the PDF, the PDF's pages in order.
    expect(chunks.slice(0, text.length)).toEqual(text);
    expect(pdf.map((chunk) => chunk.metadata.page)).toEqual([...pdf.map((chunk) => chunk.metadata.page)].sort());
    for (const chunk of chunks) {
      expect(chunk).toBeInstanceOf(Document);
      expect(chunk.pageContent.length).toBeLessThanOrEqual(CHUNKING.chunkSize);
      // The service's metadata, kept through the splitter, which adds its own line range.
      expect(chunk.metadata).toMatchObject({ source: chunk.metadata.filename, loc: { lines: expect.any(Object) } });
    }
    for (const chunk of pdf) expect(chunk.metadata).toMatchObject({ page: expect.any(Number), total_pages: 2 });
  });

  it("split: true in options gives the service's chunks: the same as LangChain's splitter makes", async () => {
    const sources = [corpusPath(TEXT), corpusPath(PDF)];
    const options = { split: true, chunk_size: CHUNKING.chunkSize, chunk_overlap: CHUNKING.chunkOverlap };
    const [serviceChunks, pages] = await Promise.all([
      new DocprocLoader({ client, sources, options }).load(),
      new DocprocLoader({ client, sources }).load(),
    ]);
    expect(serviceChunks.length).toBeGreaterThan(pages.length);
    serviceChunks.forEach((chunk) =>
      expect(chunk.metadata).toMatchObject({ chunk_index: expect.any(Number), start_index: expect.any(Number) }),
    );
    const langchainChunks = await new RecursiveCharacterTextSplitter(CHUNKING).splitDocuments(pages);
    expect(summary(serviceChunks)).toEqual(summary(langchainChunks));

    // With a structure option every chunk has a stable chunk_id: the Document's id, for vector stores.
    const structured = await new DocprocLoader({
      client,
      sources: [corpusPath('zh/zh-memo.md')],
      options: { split: true, chunk_strategy: 'by_heading', chunk_size: 300, chunk_overlap: 0 },
    }).load();
    expect(structured.length).toBeGreaterThan(1);
    for (const chunk of structured) expect(chunk.id).toEqual(expect.any(String));
    expect(structured.map((chunk) => chunk.id)).toEqual(structured.map((chunk) => chunk.metadata.chunk_id));
    expect(new Set(structured.map((chunk) => chunk.id)).size).toBe(structured.length);
  });

  it('lazyLoad yields source by source in the order given, whichever task finishes first', async () => {
    const slow = 'langchain-slow.txt';
    const since = new Date().toISOString();
    const sources: DocprocSource[] = [
      `${fixtures.url}/hold/${slow}`,
      { bytes: new TextEncoder().encode('The second source, quick.'), filename: 'quick.txt' },
      new TextEncoder().encode('The third source, bytes without a name.'),
      corpusPath('text/fake-text.txt'),
    ];
    const loader = new DocprocLoader({ client, sources, concurrency: 4 });
    const iterator = loader.lazyLoad();
    let firstSettled = false;
    const first = iterator.next().then((step) => ((firstSettled = true), step));

    // Everything after the held source finishes while it waits.
    for (const deadline = Date.now() + 30_000; ;) {
      const done = await finishedSince(since);
      if (fixtures.isHeld(slow) && ['quick.txt', 'document', 'fake-text.txt'].every((name) => done.has(name))) break;
      if (Date.now() > deadline) throw new Error(`still waiting; finished: ${[...done].join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(firstSettled).toBe(false);
    fixtures.release(slow);

    const documents = [(await first).value as Document];
    for await (const document of { [Symbol.asyncIterator]: () => iterator }) documents.push(document);
    expect(documents.map((document) => document.metadata.filename)).toEqual([
      slow,
      'quick.txt',
      'document',
      'fake-text.txt',
    ]);
    expect(documents[0]!.pageContent).toBe(`released ${slow}`);
    expect(documents[0]!.metadata.source).toBe(`${fixtures.url}/hold/${slow}`);
  });

  it('reads s3:// URIs, and holds to its concurrency', async () => {
    const local = target.local!;
    const s3 = new S3Client({
      endpoint: local.s3Endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      forcePathStyle: true,
    });
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: local.bucketName,
          Key: 'inbox/langchain/memo.pdf',
          Body: readCorpus('pdf/fake-memo.pdf'),
        }),
      );
    } finally {
      s3.destroy();
    }
    let inFlight = 0;
    let most = 0;
    class Counting extends DocprocClient {
      override async submitFile(file: string | Uint8Array, options?: SubmitFileOptions) {
        most = Math.max(most, ++inFlight);
        try {
          return await super.submitFile(file, options);
        } finally {
          inFlight--;
        }
      }
    }
    const counting = new Counting({ baseUrl: target.apiUrl, apiKey: KEY });
    const files = ['text/fake-text.txt', 'zh/zh-memo.md', 'html/fake-html.html', 'docx/fake.docx', 'text/codeblock.md'];
    const documents = await new DocprocLoader({
      client: counting,
      sources: [`s3://${local.bucketName}/inbox/langchain/memo.pdf`, ...files.map(corpusPath)],
      concurrency: 2,
    }).load();
    expect(most).toBe(2);
    expect(documents[0]!.metadata).toMatchObject({ source: `s3://${local.bucketName}/inbox/langchain/memo.pdf` });
    expect(documents[0]!.pageContent).toContain('May 5, 2023');
    expect([...new Set(documents.slice(1).map((document) => document.metadata.filename))]).toEqual(
      files.map((file) => file.split('/').pop()),
    );

    // A reader that stops early: the generator ends cleanly, nothing is left waiting or unhandled.
    const early = new DocprocLoader({ client, sources: files.map(corpusPath), concurrency: 1 });
    for await (const document of early.lazyLoad()) {
      expect(document.metadata.filename).toBe('fake-text.txt');
      break;
    }
  });

  it('a failing source throws a DocprocError that names it; onError: skip leaves it out', async () => {
    const sources = [corpusPath('text/fake-text.txt'), corpusPath('pdf/password.pdf'), corpusPath('zh/zh-memo.md')];
    const error = await new DocprocLoader({ client, sources }).load().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(DocprocError);
    expect(error).toBeInstanceOf(DocprocSourceError);
    expect(error).toMatchObject({
      code: 'PDF_PASSWORD_PROTECTED',
      retryable: false,
      source: corpusPath('pdf/password.pdf'),
      sourceIndex: 1,
      taskId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect((error as Error).message).toContain('password.pdf');

    const missing = `s3://${target.local!.bucketName}/inbox/langchain/not-there.pdf`;
    const skipping = new DocprocLoader({
      client,
      sources: [
        ...sources,
        missing,
        corpusPath('pdf/no-such-file.pdf'),
        `${fixtures.url}/corpus/html/fake-html.html?token=secret`,
      ],
      onError: 'skip',
    });
    const documents = await skipping.load();
    expect([...new Set(documents.map((document) => document.metadata.filename))]).toEqual([
      'fake-text.txt',
      'zh-memo.md',
      'fake-html.html',
    ]);
    expect(skipping.skipped.map(({ code, sourceIndex }) => ({ code, sourceIndex }))).toEqual([
      { code: 'PDF_PASSWORD_PROTECTED', sourceIndex: 1 },
      // Refused at submission: no task was made.
      { code: 'SOURCE_NOT_FOUND', sourceIndex: 3 },
      { code: 'FILE_NOT_READABLE', sourceIndex: 4 },
    ]);
    expect(skipping.skipped[1]!.taskId).toBeUndefined();
  });

  it("the caller's AbortSignal stops a load, before it starts or while it waits", async () => {
    const aborted = await new DocprocLoader({ client, sources: [corpusPath(TEXT)], signal: AbortSignal.abort() })
      .load()
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(aborted).toMatchObject({ code: 'ABORTED' });

    const controller = new AbortController();
    const held = 'langchain-abort.txt';
    const loading = new DocprocLoader({
      client,
      sources: [`${fixtures.url}/hold/${held}`, corpusPath(TEXT)],
      signal: controller.signal,
      onError: 'skip',
    })
      .load()
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    for (const deadline = Date.now() + 30_000; !fixtures.isHeld(held);) {
      if (Date.now() > deadline) throw new Error('the held source was never fetched');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    controller.abort();
    // Thrown even with onError: skip: an abort is the caller's, not the source's.
    expect(await loading).toMatchObject({ code: 'ABORTED' });
    fixtures.release(held);
  });

  it('a URL source is named without its query string, which may carry credentials', async () => {
    const error = await new DocprocLoader({
      client,
      sources: [`${fixtures.url}/corpus/missing.pdf?X-Amz-Signature=secret`],
    })
      .load()
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(error).toMatchObject({ code: 'SOURCE_FETCH_FAILED', source: `${fixtures.url}/corpus/missing.pdf` });
    expect((error as Error).message).not.toContain('secret');
  });
});

/** File names of this key's tasks finished, made since a time. */
const finishedSince = async (since: string) => {
  const names = new Set<string>();
  for await (const page of client.listTasks({ status: 'SUCCESS', limit: 100 })) {
    for (const task of page.tasks)
      if (task.created_at >= since && task.source.filename) names.add(task.source.filename);
  }
  return names;
};
