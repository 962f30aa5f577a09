import { blobStore } from '../adapters/index.js';
import { fetchSource } from '../adapters/url-source.js';
import { once } from '../cold-start.js';
import { loadConfig, previewEnvironmentSchema, type PreviewConfig } from '../config.js';
import type { BlobStore } from '../core/ports.js';
import type { PreviewDeps } from '../core/preview.js';
import { SandboxPool } from '../documents/sandbox.js';
import { logger } from '../observability.js';
import type { SourceCheckDeps } from './document-request.js';

/** What the preview route uses: no table, no queue; S3 for sources only; a sandbox of its own. */
export interface PreviewFunctionDeps extends PreviewDeps, SourceCheckDeps {
  config: PreviewConfig;
  blobs: BlobStore;
  sandbox?: SandboxPool | undefined;
}

export const buildPreviewDeps = (env: NodeJS.ProcessEnv): PreviewFunctionDeps => {
  const config = loadConfig(previewEnvironmentSchema, env);
  const sandbox = new SandboxPool({
    memoryMb: config.SANDBOX_MEMORY_MB,
    log: (message, detail) => logger.warn(message, { detail }),
  });
  return {
    config,
    blobs: blobStore(),
    fetchSource,
    processDocument: (input, options, context) => sandbox.process(input, options, context),
    sandbox,
  };
};

/** Built once per cold start from the function's environment. */
export const previewDeps = once(() => buildPreviewDeps(process.env));
