import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE_TARGET, ESM_REQUIRE_BANNER, LAZY_MODULES } from '../lib/bundling.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(ROOT, 'node_modules', '.cache', 'docproc-local');

/** Files whose change means the bundles must be built again. */
const SOURCES = ['lambdas', 'lib', 'local', 'package-lock.json', 'patches'];

const fingerprint = (entries: readonly string[]): string => {
  const hash = createHash('sha256').update(entries.join('\n'));
  const walk = (path: string) => {
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const name of readdirSync(path).sort()) walk(join(path, name));
    } else {
      hash.update(`${relative(ROOT, path)}:${stat.size}:${stat.mtimeMs}\n`);
    }
  };
  for (const source of SOURCES) if (existsSync(join(ROOT, source))) walk(join(ROOT, source));
  return hash.digest('hex').slice(0, 16);
};

export interface LocalBundles {
  /** Each entry's bundle, by its path from the project root. */
  modules: ReadonlyMap<string, URL>;
  /** V8's compile cache for these bundles (Node's `module.enableCompileCache`), shared by every thread. */
  compileCache: string;
}

let built: Promise<LocalBundles> | undefined;

/**
 * The functions as the local runtime runs them: each entry bundled into one
 * ESM file the way the CDK bundles it for Lambda (same target, the AWS SDK
 * inside), plus the runtime's own bootstrap. A thread then loads one file (a
 * cold start of about 0.1 s) instead of transpiling its sources, and the
 * sandbox and PDF threads re-enter the same bundle as they do on Lambda.
 * Built once per change of the sources (about 2 s), kept under
 * node_modules/.cache. Entries are paths from the project root.
 */
export const localBundles = (entries: readonly string[]): Promise<LocalBundles> =>
  (built ??= (async () => {
    const dir = join(CACHE, fingerprint(entries));
    const urlOf = (entry: string) => pathToFileURL(join(dir, entry.replace(/\.ts$/, '.mjs')));
    if (!existsSync(join(dir, '.complete'))) {
      const staging = `${dir}.${process.pid}.tmp`;
      rmSync(staging, { recursive: true, force: true });
      await build({
        entryPoints: entries.map((entry) => ({ in: join(ROOT, entry), out: entry.replace(/\.ts$/, '') })),
        outdir: staging,
        outExtension: { '.js': '.mjs' },
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: BUNDLE_TARGET,
        mainFields: ['module', 'main'],
        banner: { js: ESM_REQUIRE_BANNER },
        // Stacks from a bundle read well enough unminified; loading source maps cost each thread about 0.1 s.
        sourcemap: false,
        // Only the bootstrap imports it (for its DNS interception); it resolves from node_modules above the cache.
        external: ['fauxqs', ...LAZY_MODULES],
        logLevel: 'error',
      });
      mkdirSync(join(staging, '.complete'), { recursive: true });
      mkdirSync(CACHE, { recursive: true });
      try {
        renameSync(staging, dir);
      } catch {
        // Another process built the same bundles first: use theirs.
        rmSync(staging, { recursive: true, force: true });
      }
      // Bundles of earlier sources are not needed again (a build in progress elsewhere has its own staging name).
      for (const name of readdirSync(CACHE)) {
        if (name !== relative(CACHE, dir) && !name.endsWith('.tmp'))
          rmSync(join(CACHE, name), { recursive: true, force: true });
      }
    }
    return {
      modules: new Map(entries.map((entry) => [entry, urlOf(entry)])),
      compileCache: join(dir, '.v8-cache'),
    };
  })());
