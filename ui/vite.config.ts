// Builds the web console into ui/dist (`vite build ui` from the repository root), which
// `cordon serve` serves at /ui. Everything the page loads is in that folder: no fonts, scripts
// or styles from anywhere else. JSX is compiled for Preact.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/ui/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The manifest names the files the first load fetches: the bundle-size test reads it.
    manifest: true,
    sourcemap: false,
  },
});
