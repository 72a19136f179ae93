import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The build must be reproducible: CI rebuilds it and fails when the committed
// dist/ differs. File names carry content hashes; nothing embeds a time.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    assetsInlineLimit: 0, // no data: URLs: the CSP allows them for images only
    modulePreload: { polyfill: false }, // evergreen browsers; no inline helpers
  },
  server: {
    // `npm run dev` against a `kanal serve` on the default address.
    proxy: { "/api": { target: "http://127.0.0.1:8080", ws: true } },
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
