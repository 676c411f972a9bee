import { defineConfig } from 'vitest/config';

// Integration and e2e tests start real sshd and ZooKeeper processes; each file uses its own
// 127.0.x.0/24 range so files can run in parallel, but the machine has two cores, so keep
// the number of parallel files small and the timeouts generous.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 240_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
