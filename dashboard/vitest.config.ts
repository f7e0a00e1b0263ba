import { defineConfig } from 'vitest/config';

// Unit tests cover the DOM-free modules only, so they run in plain Node.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
