import { defineConfig } from "vite";

// The widget's iframe app (frame.html + hashed assets), served by Kanal at
// /widget/{key}/frame with its files under /widget-app/. The build must be
// reproducible: CI rebuilds it and fails when the committed dist/ differs.
// The loader (widget.js) is built by vite.loader.config.ts.
export default defineConfig({
  base: "/widget-app/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2020",
    assetsInlineLimit: 0, // no data: URLs
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: { frame: "frame.html" },
      output: { entryFileNames: "assets/app-[hash].js", chunkFileNames: "assets/[name]-[hash].js", assetFileNames: "assets/[name]-[hash][extname]" },
    },
  },
  server: {
    proxy: { "/widget": { target: "http://127.0.0.1:8080", ws: true } },
  },
});
