/**
 * `npm run fuzz -- --minutes N [--seed S] [--only documents|http]`: the fuzzers of `fuzz/` for as long as
 * asked, the parser boundary (through the sandbox) and the HTTP boundary (against the embedded stack) in turn.
 * Findings (untyped failures, 5xx, answers out of shape, a server that stops answering) are written to
 * fuzz-findings/ with what reproduces them; the run prints what it saw.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { documentCase, runDocumentCase, SEED_FILES } from '../fuzz/documents.js';
import { generatedSeeds } from '../fuzz/formats.js';
import { httpCase, runHttpCase } from '../fuzz/http.js';
import { prng } from '../fuzz/random.js';
import { SandboxPool } from '../lambdas/documents/sandbox.js';
import { startLocalStack } from '../local/stack.js';
import { readCorpus } from '../test/support/corpus.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
    only: { type: 'string' },
  },
});
// The functions' own logs would drown the findings.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
const until = Date.now() + Number(values.minutes) * 60_000;
const seed = Number(values.seed);
const random = prng(seed);
const findingsDir = 'fuzz-findings';
const counts = { documents: new Map<string, number>(), http: new Map<string, number>() };
const findings: string[] = [];
const slowest: Array<{ name: string; ms: number }> = [];
const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

const record = (kind: string, name: string, problem: string, bytes: Uint8Array | undefined, meta: unknown) => {
  mkdirSync(findingsDir, { recursive: true });
  const id = createHash('sha256')
    .update(bytes ?? Buffer.from(name))
    .digest('hex')
    .slice(0, 12);
  if (bytes) writeFileSync(`${findingsDir}/${kind}-${id}.bin`, bytes);
  writeFileSync(`${findingsDir}/${kind}-${id}.json`, JSON.stringify({ kind, name, problem, meta, seed }, null, 2));
  findings.push(`${kind} ${id}: ${name}: ${problem.split('\n')[0]}`);
  console.log(`FINDING ${kind} ${id}: ${name}: ${problem.split('\n')[0]}`);
};

const sandbox = new SandboxPool({ memoryMb: 512, keepWarm: 1 });
const seeds = new Map([
  ...SEED_FILES.map((file) => [file, new Uint8Array(readCorpus(file))] as const),
  ...(await generatedSeeds()),
]);
const stack = values.only === 'documents' ? undefined : await startLocalStack({ port: 0 });
console.log(`fuzzing for ${values.minutes} min, seed ${seed}`);

let index = 0;
while (Date.now() < until) {
  if (values.only !== 'http') {
    const input = await documentCase(random, seeds, index);
    const started = performance.now();
    const verdict = await runDocumentCase(sandbox, input, 30_000);
    const ms = performance.now() - started;
    slowest.push({ name: input.name, ms });
    slowest.sort((a, b) => b.ms - a.ms).splice(5);
    if (verdict.ok) count(counts.documents, verdict.outcome);
    else
      record('document', input.name, verdict.problem, input.bytes, {
        filename: input.filename,
        options: input.options,
      });
  }
  if (stack) {
    for (let burst = 0; burst < 10; burst++) {
      const input = httpCase(random);
      const verdict = await runHttpCase(stack.apiUrl, input);
      if (verdict.ok) count(counts.http, String(verdict.status));
      else
        record('http', `${input.method} ${input.path} (${input.name})`, verdict.problem, input.body, {
          headers: input.headers,
        });
    }
  }
  index++;
}

await stack?.stop();
await sandbox.close();
const table = (map: Map<string, number>) =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([key, value]) => `    ${key}: ${value}`)
    .join('\n');
console.log(
  `\ndocuments: ${[...counts.documents.values()].reduce((a, b) => a + b, 0)} cases\n${table(counts.documents)}`,
);
console.log(`http: ${[...counts.http.values()].reduce((a, b) => a + b, 0)} requests\n${table(counts.http)}`);
console.log(`slowest documents:\n${slowest.map(({ name, ms }) => `    ${Math.round(ms)} ms  ${name}`).join('\n')}`);
console.log(
  findings.length ? `\n${findings.length} findings in ${findingsDir}/:\n${findings.join('\n')}` : '\nno findings',
);
process.exit(findings.length ? 1 : 0);
