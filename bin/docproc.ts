/**
 * `docproc`: the service from a shell (`npx docproc …`, `npm run cli -- …`), on the TypeScript SDK.
 *
 * Streams: what a script captures goes to stdout (the task id, the result, listings); progress, summaries
 * and errors go to stderr, so `id=$(docproc submit report.pdf --wait)` holds the id and nothing else.
 * Exit codes: 0 success, 1 the task failed or was cancelled (or the service refused the request),
 * 2 usage (including a request the service calls invalid), 3 the service cannot be reached, 130 interrupted.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  DocprocClient,
  DocprocError,
  isFinal,
  TASK_STATUSES,
  type PageQuality,
  type SubmitOptions,
  type Task,
} from '../sdk/index.js';

const RESULT_FORMATS = ['json', 'jsonl', 'text'] as const;

const FIGURE_EXTENSIONS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

/** Exit codes, the CLI's contract with scripts. */
const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3, interrupted: 130 } as const;

class UsageError extends Error {}

/** The task ended FAILURE or REVOKED: its error is already on stderr. */
class TaskFailed extends Error {}

class Interrupted extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** What the progress view needs: a task, or the answer to a submission (which has no stage or progress yet). */
type TaskState = Pick<Task, 'task_id' | 'status'> & Partial<Pick<Task, 'stage' | 'progress'>>;

const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} satisfies Options;

const SUBMIT_OPTIONS = {
  split: { type: 'boolean' },
  'chunk-size': { type: 'string' },
  'chunk-overlap': { type: 'string' },
  'output-format': { type: 'string' },
  'chunk-strategy': { type: 'string' },
  'chunk-size-unit': { type: 'string' },
  tokenizer: { type: 'string' },
  pages: { type: 'string' },
  ocr: { type: 'string' },
  'ocr-languages': { type: 'string' },
  quality: { type: 'string' },
  'include-boxes': { type: 'boolean' },
  figures: { type: 'string' },
  'no-cache': { type: 'boolean' },
  destination: { type: 'string' },
  'callback-url': { type: 'string' },
  'idempotency-key': { type: 'string' },
  'content-type': { type: 'string' },
  wait: { type: 'boolean' },
} satisfies Options;

interface Command {
  /** Positional arguments, by name, for the usage line and the count check. */
  args: string[];
  options: Options;
  usage: string;
  run(client: DocprocClient, args: string[], values: Record<string, string | boolean | undefined>): Promise<void>;
}

const HELP = `usage: docproc [--url URL] [--api-key KEY] <command> [arguments]

commands:
  submit FILE|URL|s3://BUCKET/KEY   submit a document; prints its task id
      [--split] [--chunk-size N] [--chunk-overlap N] [--output-format text|markdown]
      [--chunk-strategy recursive|markdown|by_heading|by_page] [--chunk-size-unit chars|tokens]
      [--tokenizer cl100k_base|o200k_base] [--pages 1-3,7] [--ocr auto|force|off]
      [--ocr-languages eng+chi_sim] [--quality fast|auto|best] [--include-boxes] [--figures off|refs|ocr] [--no-cache] [--destination kb:NAME] [--callback-url URL]
      [--idempotency-key KEY] [--content-type TYPE] [--wait]
  status ID [--json]                the task's status, stage and progress (--json: the whole task)
  wait ID                           follow the task until it ends
  list [--status S] [--limit N] [--json]
                                    recent tasks, newest first (default 20)
  cancel ID                         cancel a task that has not ended
  retry ID [--wait]                 run a failed or cancelled task again
  report ID [--json]                how well each page was read: its grade, the rung it kept, why
  figures ID [--out DIR]            the task's figures (submitted with --figures refs): one line each; with
                                    --out, each picture saved as DIR/ID.png|jpg|webp
  result ID [--out FILE] [--format json|jsonl|text] [--wait]
                                    the documents: json (the result), jsonl (one {"page_content","metadata"}
                                    per line, for an embedding job), text (page contents, blank-line separated)

options:
  --url URL        the API's base URL (DOCPROC_URL; default http://localhost:8000/documents/async)
  --api-key KEY    sent as x-api-key (DOCPROC_API_KEY)
  -h, --help       this help

Waiting shows a progress bar on a terminal and lines "STATUS stage percent" otherwise, on stderr.
Exit codes: 0 success; 1 the task failed or was cancelled, or the service refused the request
(the error code and message on stderr); 2 usage; 3 the service cannot be reached.`;

const write = (stream: NodeJS.WriteStream, text: string) => stream.write(`${text}\n`);
const out = (text: string) => write(process.stdout, text);
const err = (text: string) => write(process.stderr, text);

/** `--chunk-size 500`: a whole number, or a usage error naming the flag. */
const integer = (value: string | boolean | undefined, flag: string): number | undefined => {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value)) {
    throw new UsageError(`--${flag} expects a whole number, not ${JSON.stringify(value)}`);
  }
  return Number(value);
};

/** A value among `choices` (the service would refuse it too, but later and less plainly). */
const oneOf = <T extends string>(value: string | boolean | undefined, flag: string, choices: readonly T[]) => {
  if (value === undefined) return undefined;
  if (!choices.includes(value as T)) {
    throw new UsageError(`--${flag} must be one of ${choices.join(', ')}, not ${JSON.stringify(value)}`);
  }
  return value as T;
};

const str = (value: string | boolean | undefined) => (typeof value === 'string' ? value : undefined);

const submitOptions = (values: Record<string, string | boolean | undefined>): SubmitOptions => {
  const options: SubmitOptions = {
    split: values.split === true ? true : undefined,
    chunk_size: integer(values['chunk-size'], 'chunk-size'),
    chunk_overlap: integer(values['chunk-overlap'], 'chunk-overlap'),
    output_format: oneOf(values['output-format'], 'output-format', ['text', 'markdown'] as const),
    chunk_strategy: oneOf(values['chunk-strategy'], 'chunk-strategy', [
      'recursive',
      'markdown',
      'by_heading',
      'by_page',
    ] as const),
    chunk_size_unit: oneOf(values['chunk-size-unit'], 'chunk-size-unit', ['chars', 'tokens'] as const),
    tokenizer: oneOf(values.tokenizer, 'tokenizer', ['cl100k_base', 'o200k_base'] as const),
    pages: str(values.pages),
    ocr: oneOf(values.ocr, 'ocr', ['auto', 'force', 'off'] as const),
    ocr_languages: str(values['ocr-languages']),
    quality: oneOf(values.quality, 'quality', ['fast', 'auto', 'best'] as const),
    include_boxes: values['include-boxes'] === true ? true : undefined,
    figures: oneOf(values.figures, 'figures', ['off', 'refs', 'ocr', 'describe'] as const),
    no_cache: values['no-cache'] === true ? true : undefined,
    destination: str(values.destination),
    callback_url: str(values['callback-url']),
    idempotencyKey: str(values['idempotency-key']),
  };
  // Unset flags stay off the wire, so the service's defaults apply.
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
};

/**
 * Shows a task's progress on stderr: a bar redrawn in place on a terminal, and a plain line per change
 * otherwise (a log or a CI job would otherwise fill with carriage returns and escape codes).
 */
const progressView = (stream: NodeJS.WriteStream = process.stderr) => {
  const tty = Boolean(stream.isTTY);
  let last = '';
  let drawn = false;
  return {
    update(task: TaskState) {
      const percent = Math.max(0, Math.min(100, Math.round(task.progress ?? 0)));
      // A submission's answer has no stage yet: a task just submitted is queued.
      const stage = task.stage ?? 'queued';
      const key = `${task.status} ${stage} ${percent}%`;
      if (key === last) return;
      last = key;
      if (!tty) {
        stream.write(`${key}\n`);
        return;
      }
      // The bar takes what the line leaves, so a narrow terminal never wraps (a wrapped line cannot be redrawn).
      const label = ` ${String(percent).padStart(3)}%  ${stage.padEnd(9)} ${task.status}`;
      const width = Math.max(10, Math.min(40, (stream.columns || 80) - label.length - 3));
      const filled = Math.round((percent / 100) * width);
      stream.write(`\r\x1b[2K[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]${label}`);
      drawn = true;
    },
    /** Ends the bar's line, so what follows starts on a line of its own. */
    done() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
};

/**
 * Long polls of a second: the service answers a long poll early only at the end, so this is how often
 * the bar moves, while the end itself is seen as soon as it happens.
 */
const WAIT_SECONDS = 1;

/** Follows a task to its end (SUCCESS, FAILURE or REVOKED), showing its progress. Ctrl-C stops following. */
const follow = async (client: DocprocClient, taskId: string, first?: TaskState): Promise<Task> => {
  const view = progressView();
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  process.once('SIGINT', onInterrupt);
  if (first) view.update(first);
  try {
    const task = await client.waitForTask(taskId, {
      signal: stop.signal,
      waitSeconds: WAIT_SECONDS,
      onProgress: (task) => view.update(task),
    });
    view.update(task);
    return task;
  } catch (error) {
    if (!stop.signal.aborted) throw error;
    view.done();
    // The task is the service's: it goes on, and can be followed again.
    err(`interrupted; the task goes on: docproc wait ${taskId}`);
    throw new Interrupted();
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    view.done();
  }
};

/** Reports how a task ended; a FAILURE or REVOKED is the exit code 1 with the task's error code on stderr. */
const settle = (task: Task) => {
  if (task.status === 'SUCCESS') {
    const count = task.result?.document_count;
    err(`SUCCESS ${task.task_id}${count === undefined ? '' : `: ${count} document${count === 1 ? '' : 's'}`}`);
    return;
  }
  const error = task.error;
  if (task.status === 'REVOKED')
    err(`REVOKED ${task.task_id}: ${error?.code ?? 'TASK_REVOKED'} The task was cancelled.`);
  else err(`FAILURE ${task.task_id}: ${error?.code ?? 'UNKNOWN_ERROR'} ${error?.message ?? ''}`.trimEnd());
  if (error?.retryable || task.status === 'REVOKED') err(`run it again: docproc retry ${task.task_id}`);
  throw new TaskFailed();
};

/** What a listing names a task by: its file, its URL or its s3:// URI. */
const sourceOf = (task: Task): string => {
  const source = task.source;
  switch (source?.type) {
    case 'upload':
    case 'presigned':
      return source.filename;
    case 'url':
      return source.url;
    case 's3':
      return source.uri;
    default:
      return '';
  }
};

const COMMANDS: Record<string, Command> = {
  submit: {
    args: ['FILE|URL|s3://BUCKET/KEY'],
    options: SUBMIT_OPTIONS,
    usage: 'docproc submit FILE|URL|s3://BUCKET/KEY [--split] [--chunk-size N] [--chunk-overlap N] [--wait] …',
    async run(client, [source = ''], values) {
      const options = submitOptions(values);
      const contentType = str(values['content-type']);
      let task: TaskState;
      if (/^s3:\/\//i.test(source)) task = await client.submitS3(source, options);
      else if (/^https?:\/\//i.test(source)) task = await client.submitUrl(source, options);
      else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
        throw new UsageError(`${source}: give a file, an http(s):// URL or an s3:// URI`);
      } else {
        // A missing file is the caller's mistake, said here rather than as an SDK stack trace.
        if (!existsSync(source) || !statSync(source).isFile()) throw new UsageError(`${source}: no such file`);
        task = await client.submitFile(source, { ...options, ...(contentType ? { contentType } : {}) });
      }
      // The id first and at once: a script has it even if the wait is interrupted.
      out(task.task_id);
      if (values.wait) settle(await follow(client, task.task_id, task));
    },
  },
  status: {
    args: ['ID'],
    options: { json: { type: 'boolean' } },
    usage: 'docproc status ID [--json]',
    async run(client, [id = ''], values) {
      const task = await client.getTask(id);
      if (values.json) {
        out(JSON.stringify(task, null, 2));
        return;
      }
      const rows: Array<[string, string | number | undefined]> = [
        ['task_id', task.task_id],
        ['status', task.status],
        ['stage', task.stage],
        ['progress', `${task.progress ?? 0}%`],
        ['source', sourceOf(task)],
        ['attempts', task.attempts],
        ['created_at', task.created_at],
        ['finished_at', task.finished_at],
        ['documents', task.result?.document_count],
        ['error', task.error ? `${task.error.code}: ${task.error.message}` : undefined],
      ];
      for (const [name, value] of rows) if (value !== undefined && value !== '') out(`${name.padEnd(12)}${value}`);
    },
  },
  report: {
    args: ['ID'],
    options: { json: { type: 'boolean' } },
    usage: 'docproc report ID [--json]',
    async run(client, [id = ''], values) {
      const task = await client.getTask(id);
      if (task.status !== 'SUCCESS')
        throw new UsageError(`task ${id} is ${task.status}: a report is made when it succeeds`);
      const result = await client.getResult(task);
      // One row per page: the first document of each page carries its report (chunks repeat it).
      const pages = new Map<number, PageQuality>();
      for (const document of result.documents) {
        const { page, quality } = document.metadata;
        if (typeof page === 'number' && quality && !pages.has(page)) pages.set(page, quality);
      }
      if (values.json) {
        out(JSON.stringify({ summary: result.quality ?? null, pages: Object.fromEntries(pages) }, null, 2));
        return;
      }
      if (!result.quality) {
        out(`no page report: ${result.format ?? 'this format'} has no pages to grade`);
        return;
      }
      const { grade, pages: counts, rungs, poor_pages: poor } = result.quality;
      out(`grade ${grade}: ${counts.good} good, ${counts.fair} fair, ${counts.poor} poor`);
      out(
        `rungs ${Object.entries(rungs)
          .map(([rung, count]) => `${rung} ${count}`)
          .join(', ')}`,
      );
      out(['page', 'grade', 'rung', 'chars', 'garbage', 'ocr conf', 'reasons'].join('\t'));
      for (const [page, quality] of [...pages].sort(([a], [b]) => a - b)) {
        out(
          [
            page,
            quality.grade,
            quality.rung,
            quality.characters,
            quality.garbage_ratio,
            quality.ocr_confidence ?? '',
            quality.reasons.join('; '),
          ].join('\t'),
        );
      }
      // Pages that gave no text have no document: the summary still names them.
      const unlisted = poor.filter((page) => !pages.has(page));
      if (unlisted.length) out(`poor pages with no text: ${unlisted.join(', ')}`);
    },
  },
  figures: {
    args: ['ID'],
    options: { out: { type: 'string' } },
    usage: 'docproc figures ID [--out DIR]',
    async run(client, [id = ''], values) {
      const result = await client.getResult(id);
      const figures = result.figures ?? [];
      if (!result.figures) throw new UsageError(`task ${id} was not submitted with --figures: it has no figures`);
      const dir = str(values.out);
      if (dir) await mkdir(dir, { recursive: true });
      for (const figure of figures) {
        let saved = '';
        if (dir && !figure.url) {
          const { mediaType, bytes } = await client.getFigure(id, figure.id);
          saved = join(dir, `${figure.id}.${FIGURE_EXTENSIONS[mediaType] ?? 'bin'}`);
          await writeFile(saved, bytes);
        }
        const where = figure.page !== undefined ? `page ${figure.page}` : (figure.section ?? '');
        out([figure.id, where, figure.url ?? figure.media_type ?? '', figure.caption ?? '', saved].join('\t'));
      }
      if (!figures.length) err('no figures: the document holds no picture kept as a figure');
    },
  },
  wait: {
    args: ['ID'],
    options: {},
    usage: 'docproc wait ID',
    async run(client, [id = '']) {
      settle(await follow(client, id));
    },
  },
  list: {
    args: [],
    options: { status: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
    usage: `docproc list [--status ${TASK_STATUSES.join('|')}] [--limit N] [--json]`,
    async run(client, _args, values) {
      const status = oneOf(values.status, 'status', TASK_STATUSES);
      const limit = integer(values.limit, 'limit') ?? 20;
      if (limit < 1) throw new UsageError('--limit must be at least 1');
      const tasks: Task[] = [];
      // Pages no larger than what is asked for (the service allows 100), through next_token until enough.
      for await (const page of client.listTasks({ status, limit: Math.min(limit, 100) })) {
        tasks.push(...page.tasks.slice(0, limit - tasks.length));
        if (tasks.length >= limit) break;
      }
      if (values.json) {
        out(JSON.stringify(tasks, null, 2));
        return;
      }
      for (const task of tasks) {
        out(
          [
            task.task_id,
            task.status.padEnd(15),
            String(task.stage ?? '').padEnd(9),
            `${String(task.progress ?? 0).padStart(3)}%`,
            task.created_at ?? '',
            sourceOf(task),
          ].join('  '),
        );
      }
    },
  },
  cancel: {
    args: ['ID'],
    options: {},
    usage: 'docproc cancel ID',
    async run(client, [id = '']) {
      const task = await client.cancel(id);
      out(`${task.task_id} ${task.status}`);
    },
  },
  retry: {
    args: ['ID'],
    options: { wait: { type: 'boolean' } },
    usage: 'docproc retry ID [--wait]',
    async run(client, [id = ''], values) {
      const task = await client.retry(id);
      out(`${task.task_id} ${task.status} attempt ${task.attempts}`);
      if (values.wait) settle(await follow(client, task.task_id, task));
    },
  },
  result: {
    args: ['ID'],
    options: { out: { type: 'string' }, format: { type: 'string' }, wait: { type: 'boolean' } },
    usage: 'docproc result ID [--out FILE] [--format json|jsonl|text] [--wait]',
    async run(client, [id = ''], values) {
      const format = oneOf(values.format, 'format', RESULT_FORMATS) ?? 'json';
      const task = values.wait ? await follow(client, id) : await client.getTask(id);
      if (task.status === 'FAILURE' || task.status === 'REVOKED') settle(task);
      if (!isFinal(task.status)) {
        err(`TASK_NOT_FINISHED ${id}: ${task.status} (${task.stage ?? ''} ${task.progress ?? 0}%)`);
        err(`follow it with: docproc result ${id} --wait`);
        throw new TaskFailed();
      }
      // getResult follows result_url when the result is too large to come inline.
      const result = await client.getResult(task);
      const documents = result.documents ?? [];
      const text =
        format === 'json'
          ? `${JSON.stringify(result, null, 2)}\n`
          : format === 'jsonl'
            ? documents
                .map((document) => JSON.stringify({ page_content: document.page_content, metadata: document.metadata }))
                .map((line) => `${line}\n`)
                .join('')
            : documents.length > 0
              ? `${documents.map((document) => document.page_content).join('\n\n')}\n`
              : '';
      const file = str(values.out);
      if (file === undefined) {
        process.stdout.write(text);
        return;
      }
      await writeFile(file, text);
      err(`${documents.length} document${documents.length === 1 ? '' : 's'} written to ${file}`);
    },
  },
};

/**
 * The command is the first positional argument; global flags may come before or after it. A loose
 * first pass (every flag of every command declared, so a flag's value is never taken for the command)
 * finds it; the strict second pass, with that command's flags only, makes anything else a usage error.
 */
const findCommand = (argv: string[]): string | undefined => {
  const every: Options = { ...GLOBAL_OPTIONS };
  for (const command of Object.values(COMMANDS)) Object.assign(every, command.options);
  const { tokens } = parseArgs({ args: argv, options: every, strict: false, allowPositionals: true, tokens: true });
  const first = tokens.find((token) => token.kind === 'positional');
  return first?.kind === 'positional' ? first.value : undefined;
};

/** A malformed --url is the caller's mistake (the SDK adds the API's base path to a bare origin). */
const checkedUrl = (url: string | undefined, flag: string): string | undefined => {
  if (url !== undefined && !URL.canParse(url)) throw new UsageError(`${flag} ${JSON.stringify(url)} is not a URL`);
  return url;
};

const main = async (argv: string[]): Promise<number> => {
  const name = findCommand(argv);
  if (name === 'help' || (name === undefined && argv.some((arg) => arg === '--help' || arg === '-h'))) {
    out(HELP);
    return EXIT.ok;
  }
  if (name === undefined) {
    err(HELP);
    return EXIT.usage;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...GLOBAL_OPTIONS, ...command.options },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    out(`usage: ${command.usage}`);
    return EXIT.ok;
  }
  const args = positionals.slice(1);
  if (args.length < command.args.length) throw new UsageError(`missing ${command.args[args.length]}`);
  if (args.length > command.args.length) throw new UsageError(`unexpected argument ${JSON.stringify(args.at(-1))}`);
  if (args.some((arg) => arg === '')) throw new UsageError('an empty argument');
  const client = new DocprocClient({
    baseUrl: checkedUrl(values.url, '--url') ?? checkedUrl(process.env.DOCPROC_URL, 'DOCPROC_URL'),
    apiKey: values['api-key'] ?? process.env.DOCPROC_API_KEY,
    // At a prompt a second or two for a blip to pass is right, not the SDK's default of several seconds.
    retry: { maxAttempts: 3 },
  });
  await command.run(client, args, values);
  return EXIT.ok;
};

const exitCodeOf = (error: unknown): number => {
  if (error instanceof TaskFailed) return EXIT.failed;
  if (error instanceof Interrupted) return EXIT.interrupted;
  // parseArgs' strict mode: an unknown flag, a flag without its value, a value given to a switch.
  const code = (error as { code?: unknown }).code;
  if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) {
    err(`docproc: ${(error as Error).message}`);
    err('see docproc --help');
    return EXIT.usage;
  }
  if (error instanceof DocprocError) {
    if (error.code === 'SERVICE_UNREACHABLE') {
      err(`SERVICE_UNREACHABLE ${error.message}`);
      return EXIT.unreachable;
    }
    err(`${error.code} ${error.message}`);
    if (error.details !== undefined) err(JSON.stringify(error.details));
    // The service found the arguments invalid (a chunk overlap above the chunk size…): a usage error too.
    return error.code === 'VALIDATION_ERROR' ? EXIT.usage : EXIT.failed;
  }
  err(`docproc: ${error instanceof Error ? error.message : String(error)}`);
  return EXIT.failed;
};

// A reader that stops early (`docproc result ID | head`) closes the pipe: what it asked for was read, so the
// CLI ends quietly with 0 instead of dying of the EPIPE write error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});

process.exitCode = await main(process.argv.slice(2)).catch(exitCodeOf);
