import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusPath } from '../support/corpus.js';
import { apiClient, isRemote, startFixtureServer, startTarget, type Api, type Target } from '../support/target.js';

/**
 * `docproc` end to end: the CLI as a child process (through its bin shim, as `npx docproc` runs it)
 * against the embedded stack, with pipes, and once in a pseudo-terminal for the progress bar.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const SHIM = join(ROOT, 'bin', 'docproc.mjs');
// Two keys: the CLI's own, and another whose tasks it must not see (and which DOCPROC_API_KEY may hold).
const KEY = 'cli-key';
const OTHER_KEY = 'cli-other-key';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let target: Target;
let api: Api;
let fixtures: Awaited<ReturnType<typeof startFixtureServer>>;
let scratch: string;

beforeAll(async () => {
  if (isRemote()) return;
  target = await startTarget({ apiKeys: [KEY, OTHER_KEY] });
  api = apiClient(target);
  fixtures = await startFixtureServer();
  scratch = mkdtempSync(join(tmpdir(), 'docproc-cli-'));
});
afterAll(async () => {
  await fixtures?.close();
  await target?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment the CLI sees: none of the caller's DOCPROC_* settings unless a test gives them. */
const cleanEnv = (extra: Record<string, string> = {}) => {
  const env = { ...process.env };
  delete env.DOCPROC_URL;
  delete env.DOCPROC_API_KEY;
  return { ...env, ...extra };
};

const spawnRun = (command: string, args: string[], env: Record<string, string | undefined>) =>
  new Promise<Run>((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });

/** The CLI with nothing added: for usage errors and the environment variables. */
const bare = (args: string[], env: Record<string, string> = {}) =>
  spawnRun(process.execPath, [SHIM, ...args], cleanEnv(env));

/** The CLI pointed at the embedded stack with its key, as flags. */
const docproc = (...args: string[]) => bare([...args, '--url', target.apiUrl, '--api-key', KEY]);

const corpus = (file: string) => corpusPath(file);

/** The task as the API shows it, to compare the CLI's output with. */
const taskOf = async (id: string) => (await (await api.get(`/tasks/${id}`)).json()) as Record<string, any>;

/** Submits through the CLI and waits (with a pipe), returning the task id. */
const submitted = async (...args: string[]) => {
  const run = await docproc('submit', ...args, '--wait');
  expect(run.code, run.stderr).toBe(0);
  return run.stdout.trim();
};

describe.skipIf(isRemote())('docproc CLI', () => {
  it('submit --wait with a pipe: the task id on stdout, plain progress lines on stderr, exit 0', async () => {
    const run = await docproc('submit', corpus('text/fake-text.txt'), '--wait');
    expect(run.code, run.stderr).toBe(0);
    // stdout is the id and nothing else, so `id=$(docproc submit … --wait)` works.
    expect(run.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    const id = run.stdout.trim();
    expect(id).toMatch(UUID);
    // Not a terminal: one plain line per change, never a carriage return or an escape code.
    expect(run.stderr).not.toContain('\r');
    expect(run.stderr).not.toContain('\x1b');
    const lines = run.stderr.split('\n').filter((line) => /^[A-Z_]+ \w* ?\d+%$/.test(line));
    expect(lines[0]).toMatch(/^(PENDING|STARTED) \w+ \d+%$/);
    expect(lines.at(-1)).toBe('SUCCESS done 100%');
    expect(run.stderr).toContain(`SUCCESS ${id}: 1 document`);
    expect((await taskOf(id)).status).toBe('SUCCESS');
  });

  it('submit passes the split options, and result --format jsonl writes one chunk per line', async () => {
    const id = await submitted(
      corpus('text/norwich-city.txt'),
      '--split',
      '--chunk-size',
      '500',
      '--chunk-overlap',
      '50',
    );
    const task = await taskOf(id);
    expect(task.options).toMatchObject({ split: true, chunk_size: 500, chunk_overlap: 50 });
    const run = await docproc('result', id, '--format', 'jsonl');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.endsWith('\n')).toBe(true);
    const lines = run.stdout.trimEnd().split('\n');
    expect(task.result.document_count).toBeGreaterThan(10);
    expect(lines).toHaveLength(task.result.document_count);
    const chunks = lines.map((line) => JSON.parse(line));
    for (const chunk of chunks) expect(Object.keys(chunk)).toEqual(['page_content', 'metadata']);
    expect(chunks).toEqual(
      task.result.documents.map((document: any) => ({
        page_content: document.page_content,
        metadata: document.metadata,
      })),
    );
    expect(chunks[1].metadata.chunk_index).toBe(1);
  });

  it('figures ID --out DIR saves each figure of a task submitted with --figures refs, one line each on stdout', async () => {
    const id = await submitted(corpus('docx/contains-pictures.docx'), '--figures', 'refs');
    const figures = (await taskOf(id)).result.figures as Array<{ id: string; sha256: string; media_type: string }>;
    expect(figures.length).toBeGreaterThan(0);
    const dir = join(scratch, 'figures');
    const run = await docproc('figures', id, '--out', dir);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(figures.length);
    for (const [index, figure] of figures.entries()) {
      const file = join(dir, `${figure.id}.png`);
      expect(lines[index]?.split('\t')[0]).toBe(figure.id);
      expect(lines[index]).toContain(file);
      expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(figure.sha256);
    }
    // A task without figures says so, as a usage error.
    const plain = await submitted(corpus('text/fake-text.txt'));
    const none = await docproc('figures', plain);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('not submitted with --figures');
  });

  it('result --format text --out FILE writes the page contents separated by blank lines', async () => {
    const id = await submitted(corpus('text/norwich-city.txt'), '--split', '--chunk-size', '2000');
    const documents = (await taskOf(id)).result.documents as Array<{ page_content: string }>;
    expect(documents.length).toBeGreaterThan(1);
    const file = join(scratch, 'norwich.txt');
    const run = await docproc('result', id, '--format', 'text', '--out', file);
    expect(run.code, run.stderr).toBe(0);
    // The data went to the file; stdout stays empty.
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`${documents.length} documents written to ${file}`);
    expect(readFileSync(file, 'utf8')).toBe(`${documents.map((document) => document.page_content).join('\n\n')}\n`);
  });

  it('result defaults to the result JSON, as the API gives it', async () => {
    const id = await submitted(corpus('html/fake-html.html'), '--output-format', 'markdown');
    const run = await docproc('result', id);
    expect(run.code, run.stderr).toBe(0);
    const task = await taskOf(id);
    expect(task.options.output_format).toBe('markdown');
    expect(JSON.parse(run.stdout)).toEqual(task.result);
  });

  it('status: a summary, or the whole task with --json', async () => {
    const id = await submitted(corpus('text/fake-text.txt'));
    const human = await docproc('status', id);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^task_id +${id}$`, 'm'));
    expect(human.stdout).toMatch(/^status +SUCCESS$/m);
    expect(human.stdout).toMatch(/^stage +done$/m);
    expect(human.stdout).toMatch(/^progress +100%$/m);
    expect(human.stdout).toMatch(/^source +fake-text\.txt$/m);
    const json = await docproc('status', id, '--json');
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(await taskOf(id));
  });

  it('report: the grade of each page, the rung it kept and why, with the summary; --json for the data', async () => {
    const id = await submitted(corpus('pdf/multi-column-2p.pdf'), '--quality', 'fast', '--split');
    const run = await docproc('report', id);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'grade good: 2 good, 0 fair, 0 poor',
      'rungs text_layer 2',
      'page\tgrade\trung\tchars\tgarbage\tocr conf\treasons',
    ]);
    expect(lines.slice(3).map((line) => line.split('\t').slice(0, 3))).toEqual([
      ['1', 'good', 'text_layer'],
      ['2', 'good', 'text_layer'],
    ]);
    const json = await docproc('report', id, '--json');
    const report = JSON.parse(json.stdout) as { summary: { poor_pages: number[] }; pages: Record<string, unknown> };
    expect(report.summary.poor_pages).toEqual([]);
    expect(Object.keys(report.pages)).toEqual(['1', '2']);
    expect((await taskOf(id)).options.quality).toBe('fast');
    const text = await submitted(corpus('text/fake-text.txt'));
    expect((await docproc('report', text)).stdout).toMatch(/^no page report: text has no pages to grade$/m);
  });

  it('list: newest first, filtered by status, limited', async () => {
    const first = await submitted(corpus('text/fake-text.txt'), '--no-cache');
    const second = await submitted(corpus('text/codeblock.md'));
    const run = await docproc('list', '--status', 'SUCCESS', '--limit', '2');
    expect(run.code, run.stderr).toBe(0);
    const rows = run.stdout.trimEnd().split('\n');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(new RegExp(`^${second}\\s+SUCCESS\\s+done\\s+100%\\s+\\S+\\s+codeblock\\.md$`));
    expect(rows[1]).toMatch(new RegExp(`^${first}\\s+SUCCESS\\b`));
    const json = await docproc('list', '--limit', '1', '--json');
    expect(json.code, json.stderr).toBe(0);
    const tasks = JSON.parse(json.stdout);
    expect(tasks).toHaveLength(1);
    expect(tasks[0].task_id).toBe(second);
    const none = await docproc('list', '--status', 'AWAITING_UPLOAD');
    expect(none).toMatchObject({ code: 0, stdout: '' });
  });

  it('cancel a running task, then retry it; cancelling a finished one is exit 1 with its code', async () => {
    const submit = await docproc('submit', `${fixtures.url}/hold/cli-cancel.txt`);
    expect(submit.code, submit.stderr).toBe(0);
    const id = submit.stdout.trim();
    await api.waitFor(id, ['STARTED']);
    const cancel = await docproc('cancel', id);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toBe(`${id} REVOKED\n`);
    fixtures.release('cli-cancel.txt');
    expect((await taskOf(id)).status).toBe('REVOKED');

    const again = await docproc('cancel', id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('TASK_NOT_CANCELLABLE');

    // wait on a cancelled task: it ended without a result, exit 1.
    const wait = await docproc('wait', id);
    expect(wait.code).toBe(1);
    expect(wait.stderr).toContain(`REVOKED ${id}`);

    const retry = await docproc('retry', id);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toBe(`${id} PENDING attempt 2\n`);
    await api.waitFor(id, ['STARTED']);
    fixtures.release('cli-cancel.txt');
    const done = await docproc('wait', id);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/^SUCCESS done 100%$/m);
    const result = await docproc('result', id, '--format', 'text');
    expect(result).toMatchObject({ code: 0, stdout: 'released cli-cancel.txt\n' });
  });

  it('a failing document: exit 1 with its error code on stderr, from submit --wait, wait, result and retry', async () => {
    const submit = await docproc('submit', corpus('pdf/password.pdf'), '--wait');
    expect(submit.code).toBe(1);
    const id = submit.stdout.trim();
    expect(id).toMatch(UUID);
    expect(submit.stderr).toMatch(new RegExp(`^FAILURE ${id}: PDF_PASSWORD_PROTECTED \\S`, 'm'));
    expect((await taskOf(id)).error.code).toBe('PDF_PASSWORD_PROTECTED');

    for (const args of [
      ['wait', id],
      ['result', id, '--format', 'jsonl'],
    ]) {
      const run = await docproc(...args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('PDF_PASSWORD_PROTECTED');
    }
    const status = await docproc('status', id);
    // status reports; it does not judge: exit 0, the error in the summary.
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^error +PDF_PASSWORD_PROTECTED: /m);

    const retry = await docproc('retry', id, '--wait');
    expect(retry.code).toBe(1);
    expect(retry.stdout).toMatch(new RegExp(`^${id} PENDING attempt 2$`, 'm'));
    expect(retry.stderr).toContain('PDF_PASSWORD_PROTECTED');
  });

  it('result of a task that has not ended: exit 1, and --wait follows it first', async () => {
    const submit = await docproc('submit', `${fixtures.url}/hold/cli-result.txt`);
    const id = submit.stdout.trim();
    await api.waitFor(id, ['STARTED']);
    const early = await docproc('result', id);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('TASK_NOT_FINISHED');
    const waiting = docproc('result', id, '--wait', '--format', 'text');
    fixtures.release('cli-result.txt');
    expect(await waiting).toMatchObject({ code: 0, stdout: 'released cli-result.txt\n' });
  });

  it('Ctrl-C while waiting stops following, not the task: exit 130 and how to follow it again', async () => {
    const child = spawn(
      process.execPath,
      [SHIM, 'submit', `${fixtures.url}/hold/cli-interrupt.txt`, '--wait', '--url', target.apiUrl, '--api-key', KEY],
      { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Interrupt once it is following the task (its progress line says so), whatever the timing.
    await new Promise<void>((resolve) =>
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        if (/^STARTED fetching/m.test(stderr)) resolve();
      }),
    );
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    const id = stdout.trim();
    expect(stderr).toContain(`interrupted; the task goes on: docproc wait ${id}`);
    expect((await taskOf(id)).status).toBe('STARTED');
    fixtures.release('cli-interrupt.txt');
    expect((await api.waitFor(id)).status).toBe('SUCCESS');
  });

  it('usage errors are exit 2 and name the problem', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /usage: docproc/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['status'], /missing ID/],
      [['status', 'a', 'b'], /unexpected argument "b"/],
      [['submit'], /missing FILE/],
      [['list', '--bogus'], /--bogus/],
      [['result', 'x', '--format', 'xml'], /--format must be one of json, jsonl, text/],
      [['submit', corpus('text/fake-text.txt'), '--chunk-size', 'abc'], /--chunk-size expects a whole number/],
      [['list', '--status', 'DONE'], /--status must be one of/],
      [['list', '--limit'], /--limit/],
      [['submit', join(scratch, 'no-such-file.pdf')], /no such file/],
      [['submit', 'ftp://example.com/a.pdf'], /http\(s\):\/\/ URL or an s3:\/\/ URI/],
    ];
    for (const [args, message] of cases) {
      // Nothing reaches the service: an unreachable URL would be exit 3.
      const run = await bare([...args, '--url', 'http://127.0.0.1:1/documents/async']);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(message);
      expect(run.stdout, args.join(' ')).toBe('');
    }
  });

  it('options the service refuses as invalid are a usage error too (exit 2, VALIDATION_ERROR)', async () => {
    const run = await docproc('submit', corpus('text/fake-text.txt'), '--chunk-size', '100', '--chunk-overlap', '100');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('VALIDATION_ERROR');
    expect(run.stderr).toContain('chunk_overlap');
  });

  it('--help prints the usage on stdout, exit 0', async () => {
    for (const args of [['--help'], ['help'], ['-h']]) {
      const run = await bare(args);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('usage: docproc');
      expect(run.stdout).toContain('Exit codes');
    }
    const command = await bare(['result', '--help']);
    expect(command).toMatchObject({ code: 0 });
    expect(command.stdout).toContain('docproc result ID [--out FILE] [--format json|jsonl|text]');
  });

  it('ends quietly with 0 when the reader closes the pipe early (`docproc result ID | head -1`)', async () => {
    // Far more than a pipe's buffer, so that the write is still going when the pipe closes.
    const id = await submitted(corpus('text/book-war-and-peace-1225p.txt'));
    const run = await new Promise<Run>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [SHIM, 'result', id, '--format', 'text', '--url', target.apiUrl, '--api-key', KEY],
        { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      // `head -1`: read the first line, then close the pipe.
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('\n')) child.stdout.destroy();
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(run.stderr).not.toContain('EPIPE');
    expect(run.code, run.stderr).toBe(0);
  });

  it('an unreachable service is exit 3', async () => {
    for (const args of [['status', 'x'], ['submit', corpus('text/fake-text.txt')], ['list']]) {
      const run = await bare([...args, '--url', 'http://127.0.0.1:1/documents/async']);
      expect(run.code, args.join(' ')).toBe(3);
      expect(run.stderr).toContain('SERVICE_UNREACHABLE');
    }
  });

  it('DOCPROC_URL and DOCPROC_API_KEY configure it, and --url and --api-key override them', async () => {
    const id = await submitted(corpus('text/fake-text.txt'));
    const fromEnv = await bare(['status', id], { DOCPROC_URL: target.apiUrl, DOCPROC_API_KEY: KEY });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(fromEnv.stdout).toMatch(/^status +SUCCESS$/m);

    // Another key does not see the task: the key really is sent.
    const otherKey = await bare(['status', id], { DOCPROC_URL: target.apiUrl, DOCPROC_API_KEY: OTHER_KEY });
    expect(otherKey.code).toBe(1);
    expect(otherKey.stderr).toContain('TASK_NOT_FOUND');

    const overridden = await bare(['status', id, '--url', target.apiUrl, '--api-key', KEY], {
      DOCPROC_URL: 'http://127.0.0.1:1/documents/async',
      DOCPROC_API_KEY: OTHER_KEY,
    });
    expect(overridden.code, overridden.stderr).toBe(0);

    // The origin alone means the document API on it.
    const origin = new URL(target.apiUrl).origin;
    const short = await bare(['status', id, '--url', origin, '--api-key', KEY]);
    expect(short.code, short.stderr).toBe(0);
  });

  it('runs as `npm run cli --` and as `npx docproc`', async () => {
    const id = await submitted(corpus('text/fake-text.txt'));
    const env = cleanEnv({ DOCPROC_URL: target.apiUrl, DOCPROC_API_KEY: KEY });
    const script = await spawnRun('npm', ['run', '--silent', 'cli', '--', 'status', id], env);
    expect(script.code, script.stderr).toBe(0);
    expect(script.stdout).toMatch(/^status +SUCCESS$/m);
    // --offline --no: the package's own bin entry, never a download of a namesake from the registry.
    const npx = await spawnRun('npm', ['exec', '--offline', '--no', '--', 'docproc', 'status', id], env);
    expect(npx.code, npx.stderr).toBe(0);
    expect(npx.stdout).toMatch(/^status +SUCCESS$/m);
  });

  const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

  it.skipIf(!hasScript)('in a terminal, submit --wait draws a progress bar redrawn in place', async () => {
    const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, SHIM, 'submit', corpus('text/fake-text.txt'), '--wait']
      .concat(['--url', target.apiUrl, '--api-key', KEY])
      .map(quote)
      .join(' ');
    // util-linux script: the command gets a pseudo-terminal for stdin, stdout and stderr; -e returns its exit code.
    const run = await spawnRun('script', ['-qfec', command, '/dev/null'], cleanEnv());
    expect(run.code, run.stdout).toBe(0);
    // Each drawing goes back to the line's start (carriage return) and clears it (ESC [2K).
    const output = run.stdout.replaceAll('\r\x1b[2K', '<redraw>');
    // A bar at the start and at the end.
    expect(output).toMatch(/<redraw>\[░+\]\s+0%\s+queued\s+PENDING/);
    expect(output).toMatch(/<redraw>\[█{10,}\]\s+100%\s+done\s+SUCCESS/);
    // No plain progress lines on a terminal.
    expect(output).not.toMatch(/^SUCCESS done 100%\r?$/m);
    expect(output).toMatch(/^[0-9a-f-]{36}\r?$/m);
  });
});
