// `electron-vite build`: the desktop app's three parts into out/ (main, preload, renderer).
// The renderer's config is browser mode's own (vite.renderer.config.ts): one window, two doors.
import { defineConfig } from 'electron-vite';
import { rendererConfig } from './vite.renderer.config.js';

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        // The node worker is its own entry: the supervisor starts it as ./node-worker.js beside
        // the bundle, so every file lands flat in out/main.
        input: { index: 'src-main/electron/main.ts', 'node-worker': 'src-main/cluster/node-worker.ts' },
        external: ['better-sqlite3', 'electron', 'tsx', 'tsx/esm/api'],
        output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: 'src-main/electron/preload.ts' },
        external: ['electron'],
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: rendererConfig,
});
