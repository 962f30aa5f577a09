import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_TARGET, ESM_REQUIRE_BANNER } from '../lib/bundling.js';
import { ROUTE_ENTRIES } from '../lib/constructs/api.js';
import { median, printTable, ROOT, round } from './support.js';

const ENTRIES: Record<string, string> = {
  ...Object.fromEntries(Object.entries(ROUTE_ENTRIES).map(([name, entry]) => [`api:${name}`, entry])),
  worker: 'worker/handler.ts',
  dlq: 'worker/dlq.ts',
  uploadEvents: 'worker/upload-events.ts',
  janitor: 'worker/janitor.ts',
};

const RUNS = 5;

/** Import time of a bundle in a fresh Node process (the module-init part of a cold start). */
const initMs = (file: string): number => {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`;
  return Number(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1' },
      encoding: 'utf8',
    }),
  );
};

/** Each function bundled as the CDK stack bundles it; size and module init time. */
export const benchBundles = async () => {
  const dir = join(ROOT, 'bench/results/bundles');
  mkdirSync(dir, { recursive: true });
  const rows = [];
  for (const [name, entry] of Object.entries(ENTRIES)) {
    const outfile = join(dir, `${name.replace(':', '-')}.mjs`);
    await build({
      entryPoints: [join(ROOT, 'lambdas', entry)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: BUNDLE_TARGET,
      minify: true,
      mainFields: ['module', 'main'],
      banner: { js: ESM_REQUIRE_BANNER },
      outfile,
      logLevel: 'error',
    });
    const times = Array.from({ length: RUNS }, () => initMs(outfile));
    rows.push({
      function: name,
      'size KB': round(statSync(outfile).size / 1024, 0),
      'init ms (median of 5)': round(median(times), 0),
    });
  }
  printTable('Bundles (minified ESM, AWS SDK inside) and module init time', rows);
  return rows;
};
