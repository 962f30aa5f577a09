import { defineConfig } from 'vitest/config';

const tier = (name: string, extra: Record<string, unknown> = {}) => ({
  extends: true as const,
  test: { name, include: [`test/${name}/**/*.test.ts`], ...extra },
});

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    projects: [
      tier('unit'),
      tier('handlers'),
      tier('infra'),
      tier('artifact'),
      tier('integration', { fileParallelism: false }),
    ],
  },
});
