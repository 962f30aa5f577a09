import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_TARGET, ESM_REQUIRE_BANNER, LAZY_MODULES } from '../lib/bundling.js';
import { parseDeploymentConfig } from '../lib/config.js';
import { functionCatalogue } from '../lib/function-catalogue.js';
import { median, printTable, ROOT, round } from './support.js';

/** One bundle per entry of the catalogue (both workers share theirs), named by its first function. */
const byEntry = new Map<string, string>();
for (const [name, spec] of Object.entries(functionCatalogue(parseDeploymentConfig({})))) {
  if (!byEntry.has(spec.entry)) byEntry.set(spec.entry, name);
}
const ENTRIES: Record<string, string> = Object.fromEntries([...byEntry].map(([entry, name]) => [name, entry]));

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
      external: LAZY_MODULES,
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
