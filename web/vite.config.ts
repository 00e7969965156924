// The web client's build: Preact with signals, plain CSS, one bundle in web/dist that the Worker
// serves as static assets (wrangler.toml [assets]). `npm run dev:web` serves it with hot reload
// and hands /v1 (HTTP and WebSocket) to the edge of `npm start`.
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  // Preact's JSX runtime through esbuild: no Babel preset needed
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    // one small app: a warning past this means something heavy came in by mistake
    chunkSizeWarningLimit: 300,
  },
  server: {
    host: "127.0.0.1",
    proxy: { "/v1": { target: process.env.EDGE_URL ?? "http://127.0.0.1:8787", ws: true, changeOrigin: true } },
  },
});
