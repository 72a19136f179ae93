// Fails the build when the workspace's initial JavaScript (the entry script
// and every module it preloads, as index.html names them) is over budget,
// gzipped at level 9. Prints the figures either way.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const BUDGET = 300 * 1024;
const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const html = readFileSync(join(dist, "index.html"), "utf8");
const files = new Set();
for (const m of html.matchAll(/<script[^>]*\ssrc="([^"]+\.js)"/g)) files.add(m[1]);
for (const m of html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+\.js)"/g)) files.add(m[1]);
if (files.size === 0) {
  console.error("check-size: index.html names no script");
  process.exit(1);
}
let raw = 0;
let gz = 0;
for (const f of files) {
  const buf = readFileSync(join(dist, f.replace(/^\//, "")));
  const z = gzipSync(buf, { level: 9 }).length;
  raw += buf.length;
  gz += z;
  console.log(`  ${f}: ${(buf.length / 1024).toFixed(1)} KiB, ${(z / 1024).toFixed(1)} KiB gzip`);
}
const line = `initial JS: ${(raw / 1024).toFixed(1)} KiB raw, ${(gz / 1024).toFixed(1)} KiB gzip (budget ${BUDGET / 1024} KiB gzip)`;
if (gz > BUDGET) {
  console.error("check-size: over budget: " + line);
  process.exit(1);
}
console.log("check-size: ok: " + line);
