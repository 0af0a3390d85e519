import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Each file gets its own database; e2e files start their own Dovecot/Postfix.
    fileParallelism: true,
    maxWorkers: 2,
    pool: 'forks',
  },
});
