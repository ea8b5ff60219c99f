// The renderer's build, one config for both front doors: browser mode serves `out/renderer`,
// and electron.vite.config.ts reuses it for the Electron window.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import type { UserConfig } from 'vite';

export const rendererRoot = fileURLToPath(new URL('./src-renderer', import.meta.url));
export const rendererOut = fileURLToPath(new URL('./out/renderer', import.meta.url));

export const rendererConfig: UserConfig = {
  root: rendererRoot,
  // Relative asset URLs: the same files load from http://127.0.0.1 and from file:// in Electron.
  base: './',
  plugins: [svelte()],
  build: {
    outDir: rendererOut,
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1024,
    rollupOptions: { input: fileURLToPath(new URL('./src-renderer/index.html', import.meta.url)) },
  },
  logLevel: 'warn',
};

export default rendererConfig;
