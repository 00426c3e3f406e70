import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // most end-to-end tests wait on the network and the clock rather than the CPU: two files at
    // a time on the 2-core machine (vitest's default here is one)
    maxWorkers: 2,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
