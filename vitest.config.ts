import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The window's model (src-renderer/lib/*.svelte.ts) uses Svelte's runes: compiled for its tests.
  plugins: [svelte()],
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Real nodes bind loopback ports and write SQLite files; keep suites in separate processes.
    pool: 'forks',
  },
});
