import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusPath } from '../support/corpus.js';
import { isRemote, startFixtureServer, startTarget, type Target } from '../support/target.js';

/**
 * examples/docproc_client.py, the standard-library Python client, run by
 * python3 against the embedded stack. Python runs with `-I -S`: no
 * site-packages at all, so an import of anything outside the standard
 * library fails here rather than on a user's machine (`-B`: and no
 * __pycache__ left in examples/).
 */
const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const EXAMPLES = join(ROOT, 'examples');
const KEY = 'python-client-key';
const python = spawnSync('python3', ['-c', 'import sys; assert sys.version_info >= (3, 8)'], { stdio: 'ignore' });

let target: Target;
let fixtures: Awaited<ReturnType<typeof startFixtureServer>>;
let scratch: string;

beforeAll(async () => {
  if (isRemote()) return;
  // An API key, as a deployment requires: the client must send DOCPROC_API_KEY on every call.
  target = await startTarget({ apiKeys: [KEY] });
  fixtures = await startFixtureServer();
  scratch = await mkdtemp(join(tmpdir(), 'docproc-python-'));
});
afterAll(async () => {
  await fixtures?.close();
  await target?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const env = () => ({ ...process.env, DOCPROC_URL: target.apiUrl, DOCPROC_API_KEY: KEY });

/** Runs a script after a preamble that imports the client; whatever it prints with `out` comes back parsed. */
const py = async (script: string, ...args: string[]): Promise<any> => {
  const preamble = [
    'import json, sys',
    `sys.path.insert(0, ${JSON.stringify(EXAMPLES)})`,
    'from docproc_client import DocprocClient, DocprocError',
    'client = DocprocClient(base_delay=0.05)',
    'args = sys.argv[1:]',
    'def out(value): print(json.dumps(value))',
    'def error_of(call):',
    '    try:',
    '        call()',
    '    except DocprocError as error:',
    '        return {"code": error.code, "status": error.status, "retryable": error.retryable, "message": error.message}',
    '    raise AssertionError("no DocprocError")',
    '',
  ].join('\n');
  const { stdout } = await run('python3', ['-I', '-S', '-B', '-c', `${preamble}${script}`, ...args], {
    env: env(),
    timeout: 90_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout);
};

describe.skipIf(isRemote())('the Python client (examples/docproc_client.py)', () => {
  it('python3 is on PATH', () => {
    expect(python.status, 'python3 (3.8 or later) on PATH').toBe(0);
  });

  it('submits a corpus file, follows its progress, and reads the result', async () => {
    const outcome = await py(
      `
seen = []
submitted = client.submit_file(args[0], split=True, chunk_size=300, chunk_overlap=30)
task = client.wait_for_task(submitted["task_id"], on_progress=lambda t: seen.append(t["status"]), timeout=60)
result = client.get_result(task["task_id"])
out({"submitted": submitted, "task": task, "seen": seen, "result": result, "report": client.report(task)})
`,
      corpusPath('pdf/multi-column-2p.pdf'),
    );
    // The page report: the summary, and each page's grade once (its chunks repeat it).
    expect(outcome.report.summary).toMatchObject({ grade: 'good', pages: { good: 2, fair: 0, poor: 0 } });
    expect(Object.keys(outcome.report.pages)).toEqual(['1', '2']);
    expect(outcome.report.pages['1']).toMatchObject({ grade: 'good', rung: 'text_layer' });
    expect(outcome.submitted).toMatchObject({
      task_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'PENDING',
      route: 'upload',
      replayed: false,
    });
    expect(outcome.task).toMatchObject({
      status: 'SUCCESS',
      source: { type: 'upload', filename: 'multi-column-2p.pdf' },
    });
    expect(outcome.task.options).toMatchObject({ split: true, chunk_size: 300, chunk_overlap: 30 });
    expect(outcome.seen.at(-1)).toBe('SUCCESS');
    expect(outcome.result.document_count).toBeGreaterThan(1);
    expect(outcome.result.documents).toHaveLength(outcome.result.document_count);
    for (const document of outcome.result.documents) {
      expect(document.page_content.length).toBeLessThanOrEqual(300);
      expect(document.metadata).toMatchObject({
        filename: 'multi-column-2p.pdf',
        total_pages: 2,
        chunk_index: expect.any(Number),
      });
    }
  });

  it('get_figure: the bytes of each figure of a task submitted with figures="refs"', async () => {
    const outcome = await py(
      `
import hashlib
submitted = client.submit_file(args[0], figures="refs")
task = client.wait_for_task(submitted["task_id"], timeout=60)
result = client.get_result(task)
fetched = []
for figure in result["figures"]:
    media_type, data = client.get_figure(task["task_id"], figure["id"])
    fetched.append({"id": figure["id"], "media_type": media_type, "sha256": hashlib.sha256(data).hexdigest()})
out({"figures": result["figures"], "fetched": fetched})
`,
      corpusPath('docx/contains-pictures.docx'),
    );
    expect(outcome.figures.length).toBeGreaterThan(0);
    expect(outcome.fetched).toEqual(
      outcome.figures.map((figure: any) => ({ id: figure.id, media_type: figure.media_type, sha256: figure.sha256 })),
    );
  });

  it('submits a file whose name is not UTF-8 (os.fsdecode surrogates), its undecodable bytes replaced', async () => {
    const outcome = await py(
      `
import os
path = os.path.join(args[0], os.fsdecode(b"caf\\xe9.txt"))
with open(path, "wb") as handle:
    handle.write(b"A text file with a Latin-1 name.")
submitted = client.submit_file(path)
task = client.wait_for_task(submitted["task_id"], timeout=60)
out({"submitted": submitted, "task": task})
`,
      scratch,
    );
    expect(outcome.submitted).toMatchObject({ route: 'upload', replayed: false });
    expect(outcome.task).toMatchObject({ status: 'SUCCESS', source: { type: 'upload', filename: 'caf\uFFFD.txt' } });
  });

  it('sends a file above 4 MB through upload-url and a PUT streamed from disk; a large result comes by result_url', async () => {
    const line = 'A line of the large test document, long enough to add up quickly to several megabytes.\n';
    const big = join(scratch, 'large-notes.txt');
    await writeFile(big, line.repeat(Math.ceil((5 * 1024 * 1024) / line.length)));
    const outcome = await py(
      `
import os
sent = []
class Watched(DocprocClient):
    def _open(self, request, timeout):
        # What left, and how: the PUT's body must be the open file, never its bytes.
        sent.append({"method": request.get_method(), "url": request.full_url, "streamed": hasattr(request.data, "read")})
        return super()._open(request, timeout)
client = Watched()
import resource
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
submitted = client.submit_file(args[0])
grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
task = client.wait_for_task(submitted["task_id"], timeout=60)
result = client.get_result(task)
# A task view read long ago: its link has expired, and get_result asks for a fresh one.
stale = {**task, "result": {**task["result"], "result_url": "http://127.0.0.1:9/expired",
                            "result_url_expires_at": "2000-01-01T00:00:00.000Z"}}
again = client.get_result(stale)
out({"size": os.path.getsize(args[0]), "sent": sent, "again": again["document_count"], "grown_kib": grown_kib, "submitted": submitted, "task": task,
     "chars": sum(len(d["page_content"]) for d in result["documents"]), "count": result["document_count"]})
`,
      big,
    );
    expect(outcome.size).toBeGreaterThan(5 * 1024 * 1024 - line.length);
    expect(outcome.submitted).toMatchObject({ status: 'AWAITING_UPLOAD', route: 'upload-url', replayed: false });
    expect(outcome.submitted).not.toHaveProperty('upload');
    const [created, put] = outcome.sent;
    expect(created).toMatchObject({ method: 'POST', url: `${target.apiUrl}/upload-url` });
    expect(put).toMatchObject({ method: 'PUT', streamed: true });
    // Peak RSS (Linux: KiB) grew by far less than the 5 MB file while it was sent.
    expect(outcome.grown_kib).toBeLessThan(1024);
    expect(outcome.task).toMatchObject({ status: 'SUCCESS', source: { type: 'presigned', size_bytes: outcome.size } });
    // Over the 4 MB inline limit: the task links the result, and get_result followed the link.
    expect(outcome.task.result.documents).toBeUndefined();
    expect(outcome.task.result.result_url).toEqual(expect.any(String));
    expect(outcome.count).toBe(1);
    expect(outcome.chars).toBe(outcome.size);
    expect(outcome.again).toBe(1);
  });

  it("raises the service's errors as DocprocError: an unknown task, a bad option, a failed task, no service", async () => {
    const outcome = await py(
      `
missing = error_of(lambda: client.get_task("00000000-0000-4000-8000-000000000000"))
invalid = error_of(lambda: client.submit_file(b"text", filename="a.txt", split=True, chunk_size=10, chunk_overlap=20))
task = client.wait_for_task(client.submit_file(args[0])["task_id"], timeout=60)
failed = error_of(lambda: client.get_result(task))
unreadable = error_of(lambda: client.submit_file(args[1]))
offline = error_of(lambda: DocprocClient("http://127.0.0.1:9", base_delay=0.01).get_task("x"))
out({"missing": missing, "invalid": invalid, "failed": failed, "unreadable": unreadable, "offline": offline,
     "status": task["status"]})
`,
      corpusPath('pdf/password.pdf'),
      join(scratch, 'no-such-file.pdf'),
    );
    expect(outcome.missing).toMatchObject({ code: 'TASK_NOT_FOUND', status: 404, retryable: false });
    expect(outcome.invalid).toMatchObject({ code: 'VALIDATION_ERROR', status: 400, retryable: false });
    expect(outcome.invalid.message).toContain('chunk_overlap');
    expect(outcome.status).toBe('FAILURE');
    expect(outcome.failed).toMatchObject({ code: 'PDF_PASSWORD_PROTECTED', status: null, retryable: false });
    expect(outcome.unreadable).toMatchObject({ code: 'FILE_NOT_READABLE', status: null });
    expect(outcome.offline).toMatchObject({ code: 'SERVICE_UNREACHABLE', status: null, retryable: true });
  });

  it('a retried submission returns the same task: a shared key, and an answer lost on the way back', async () => {
    const outcome = await py(
      `
import uuid
same = [client.submit_file(b"Submitted twice.", filename="twice.txt", idempotency_key="python-twice")
        for _ in range(2)]
conflict = error_of(lambda: client.submit_file(b"Something else.", filename="twice.txt", idempotency_key="python-twice"))

name = f"lost-{uuid.uuid4().hex}.txt"
keys = []
class LosesFirstAnswer(DocprocClient):
    def _open(self, request, timeout):
        response = super()._open(request, timeout)
        if request.get_method() == "POST":
            keys.append(request.get_header("Idempotency-key"))
            if len(keys) == 1:
                # The service made the task, but its answer never arrives.
                response.close()
                raise ConnectionResetError("connection reset by peer")
        return response
lost = LosesFirstAnswer(base_delay=0.01).submit_file(b"Its first answer is lost.", filename=name)
tasks = [t["task_id"] for t in client.iter_tasks() if t.get("source", {}).get("filename") == name]
out({"same": same, "conflict": conflict, "keys": keys, "lost": lost, "tasks": tasks})
`,
    );
    expect(outcome.same[1]).toMatchObject({ task_id: outcome.same[0].task_id, replayed: true });
    expect(outcome.same[0].replayed).toBe(false);
    expect(outcome.conflict).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', status: 409 });
    expect(outcome.keys).toHaveLength(2);
    expect(outcome.keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(outcome.keys[1]).toBe(outcome.keys[0]);
    expect(outcome.lost.replayed).toBe(true);
    expect(outcome.tasks).toEqual([outcome.lost.task_id]);
  });

  it('lists, cancels and retries tasks, and runs a batch', async () => {
    const held = `${fixtures.url}/hold/python-cancel.txt`;
    const outcome = await py(
      `
import time
task_id = client.submit_url(args[0])["task_id"]
while client.get_task(task_id)["status"] != "STARTED":
    time.sleep(0.05)
cancelled = client.cancel(task_id)
revoked = client.wait_for_task(task_id, timeout=30)
retried = client.retry(task_id)
pages = list(client.list_tasks(limit=2))
listed = [t["task_id"] for page in pages for t in page["tasks"]]
failed_listed = [t["task_id"] for t in client.iter_tasks(status="FAILURE")]
batch = client.create_batch(sources=[args[1], args[1]], split=True)
while client.get_batch(batch["batch_id"])["status"] not in ("COMPLETED", "COMPLETED_WITH_ERRORS"):
    time.sleep(0.1)
final = client.get_batch(batch["batch_id"])
batch_tasks = [t for page in client.list_batch_tasks(batch["batch_id"]) for t in page["tasks"]]
out({"pages": [len(page["tasks"]) for page in pages], "task_id": task_id, "cancelled": cancelled, "revoked": revoked, "retried": retried, "listed": listed,
     "failed_listed": failed_listed, "batch": final, "batch_tasks": len(batch_tasks)})
`,
      held,
      `${fixtures.url}/corpus/text/norwich-city.txt`,
    );
    fixtures.release('python-cancel.txt');
    expect(outcome.revoked.status).toBe('REVOKED');
    expect(outcome.retried).toMatchObject({ status: 'PENDING', attempts: 2 });
    // Pages of two, followed to the end: every task of this key, newest first.
    expect(outcome.listed.length).toBeGreaterThan(3);
    expect(Math.max(...outcome.pages)).toBe(2);
    // A full last page may still carry a next_token; the page after it is empty.
    expect(outcome.pages.length).toBeGreaterThanOrEqual(Math.ceil(outcome.listed.length / 2));
    expect(outcome.listed).toContain(outcome.task_id);
    expect(new Set(outcome.listed).size).toBe(outcome.listed.length);
    // The status filter: only the password-protected PDF of the errors test failed.
    expect(outcome.failed_listed).toHaveLength(1);
    expect(outcome.batch).toMatchObject({ status: 'COMPLETED', total: 2, counts: { SUCCESS: 2 } });
    expect(outcome.batch_tasks).toBe(2);
  });

  it('python3 examples/docproc_client.py FILE --split prints the documents, as the original client did', async () => {
    const { stdout } = await run(
      'python3',
      [
        join(EXAMPLES, 'docproc_client.py'),
        corpusPath('text/fake-text.txt'),
        '--split',
        '--chunk-size',
        '100',
        '--chunk-overlap',
        '10',
      ],
      {
        env: env(),
        timeout: 60_000,
      },
    );
    expect(stdout).toMatch(/^Task submitted: [0-9a-f-]{36}$/m);
    const count = Number(/^Processed (\d+) documents$/m.exec(stdout)?.[1]);
    expect(count).toBeGreaterThan(1);
    expect(stdout.match(/^--- document \d+ \{"source": "fake-text.txt"/gm)).toHaveLength(count);
  });
});
