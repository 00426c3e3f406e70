import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the cluster's fault tests run on their own after the suite (scripts/test.sh): they take
    // both cores for a minute and a half
    exclude: process.env.CLUSTER_FAULTS ? [] : ['test/e2e/cluster-faults.test.ts', '**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // end-to-end tests spend part of their time waiting on sockets and child processes: three
    // files at a time keep both cores of the CI machine busy (vitest's default here is one)
    maxWorkers: 3,
    // a worker process runs file after file: a fresh process and module graph per file cost
    // about a second each. Nothing in the code under test keeps module-level state, and no test
    // touches process-wide settings, so files cannot see each other
    isolate: false,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
