// Fails the build when the widget's JavaScript (the loader a site embeds plus
// the iframe app: every .js of dist/) is over 30 KB gzipped at level 9.
// Prints the figures either way.
import { readdirSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join, dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";

const BUDGET = 30 * 1024;
const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const files = [];
const walk = (d) => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (p.endsWith(".js")) files.push(p);
  }
};
walk(dist);
if (!files.some((f) => f.endsWith("widget.js")) || files.length < 2) {
  console.error("check-size: dist/ lacks widget.js or the app's script: run the build first");
  process.exit(1);
}
let raw = 0;
let gz = 0;
for (const f of files.sort()) {
  const buf = readFileSync(f);
  const z = gzipSync(buf, { level: 9 }).length;
  raw += buf.length;
  gz += z;
  console.log(`  ${relative(dist, f)}: ${(buf.length / 1024).toFixed(1)} KiB, ${(z / 1024).toFixed(1)} KiB gzip`);
}
const line = `widget JS (loader + app): ${(raw / 1024).toFixed(1)} KiB raw, ${(gz / 1024).toFixed(1)} KiB gzip (budget ${BUDGET / 1024} KiB gzip)`;
if (gz > BUDGET) {
  console.error("check-size: over budget: " + line);
  process.exit(1);
}
console.log("check-size: ok: " + line);
