import { defineConfig } from "vite";

// The loader a site embeds: one classic script, dist/widget.js (an IIFE: no
// imports, no exports), served by Kanal at /widget.js.
export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: false, // the app build ran first
    sourcemap: false,
    target: "es2017",
    lib: { entry: "src/loader.ts", name: "KanalWidgetLoader", formats: ["iife"], fileName: () => "widget.js" },
  },
});
