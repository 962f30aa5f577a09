import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDeploymentConfig } from '../../lib/config.js';
import { DocProcStack } from '../../lib/docproc-stack.js';

export const ARTIFACTS = join(import.meta.dirname, '..', '.artifacts');
export const CDK_OUT = join(ARTIFACTS, 'cdk.out');

/**
 * Synthesizes the app the way `cdk synth` does (cdk-nag attached, every
 * function bundled by the local esbuild) into test/.artifacts/cdk.out, once
 * for the infra and artifact tiers.
 */
export const synthesizeApp = (outdir = CDK_OUT, config: Record<string, unknown> = {}, bundle = true) => {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  // The context `cdk synth` gives the app: cdk.json's feature flags (a template without them is not the one deployed).
  const { context } = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const { docproc: _deployment, ...flags } = context;
  const app = new App({
    outdir,
    context: { ...flags, ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
  const stack = new DocProcStack(app, 'DocProc', {
    config: parseDeploymentConfig(config),
    env: { account: '123456789012', region: 'us-east-1' },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, assembly: app.synth() };
};

const MARKER = join(ARTIFACTS, 'synth.done');
const LOCK = join(ARTIFACTS, 'synth.lock');

/**
 * One bundling synth per test run, shared by the infra and artifact tiers
 * (separate worker processes): the first to take the lock synthesizes, the
 * others wait for the marker that names this run.
 */
export const ensureSynth = async (runId: string): Promise<string> => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const done = () => existsSync(MARKER) && readFileSync(MARKER, 'utf8') === runId;
  if (done()) return CDK_OUT;
  let locked = false;
  try {
    mkdirSync(LOCK);
    locked = true;
  } catch {
    // someone else is synthesizing
  }
  if (locked) {
    try {
      if (!done()) {
        synthesizeApp();
        writeFileSync(MARKER, runId);
      }
    } finally {
      rmSync(LOCK, { recursive: true, force: true });
    }
    return CDK_OUT;
  }
  for (let waited = 0; waited < 240_000; waited += 250) {
    if (done()) return CDK_OUT;
    if (!existsSync(LOCK)) return ensureSynth(runId);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error('Timed out waiting for the shared synth');
};
