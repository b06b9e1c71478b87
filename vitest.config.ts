import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Property tests and oracle tests (tshark, iptables-restore) take a few seconds each.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
