import { defineConfig } from 'vite';

// polaris serve hands out the built files at / and /assets/..., on the same
// origin as the API, so the dev server proxies the API to a running server
// (POLARIS_DEV_TARGET, default the server's default HTTP port).
const target = process.env.POLARIS_DEV_TARGET ?? 'http://127.0.0.1:8000';

export default defineConfig({
  base: '/',
  build: {
    target: 'es2022',
    assetsDir: 'assets',
    // The server's Content-Security-Policy allows scripts from 'self' only:
    // nothing may be inlined as a data: URL into a script or style.
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: {
      '/v2': { target, changeOrigin: false },
      '/polaris': { target, changeOrigin: false },
    },
  },
});
