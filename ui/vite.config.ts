import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The Web UI: built into dist/ui (after tsup, which empties dist/) and served by every server at
// /ui/. Everything it needs is in the bundle: no CDN or network fetch at run time.
export default defineConfig({
  root: import.meta.dirname,
  base: '/ui/',
  plugins: [react()],
  build: { outDir: '../dist/ui', emptyOutDir: true, sourcemap: false },
});
