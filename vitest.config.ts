import { defineConfig } from 'vitest/config';

const tier = (name: string, extra: Record<string, unknown> = {}) => ({
  extends: true as const,
  test: { name, include: [`test/${name}/**/*.test.ts`], ...extra },
});

export default defineConfig({
  test: {
    pool: 'forks',
    // Handlers log through Powertools; keep test output to what fails.
    env: { POWERTOOLS_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'SILENT', AWS_REGION: 'us-east-1' },
    testTimeout: 30_000,
    hookTimeout: 120_000,
    globalSetup: ['test/support/global-setup.ts'],
    projects: [
      tier('unit'),
      tier('handlers'),
      tier('infra'),
      tier('artifact'),
      tier('integration', { fileParallelism: false }),
    ],
  },
});
