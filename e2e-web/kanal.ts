// Runs the real Kanal binary for the browser tests: build it, create the
// workspace and a token with its CLI, and serve on a free loopback port.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const OWNER = { email: "owner@example.com", password: "correct-horse-42", name: "Ayşe Yıldız" };

/** The environment without KANAL_* variables, so only what a test sets reaches the binary. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("KANAL_")) env[k] = v;
  return env;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Builds ./cmd/kanal into dir (or uses KANAL_BIN when set) and returns the binary's path. */
export function buildKanal(dir: string): string {
  if (process.env.KANAL_BIN) return process.env.KANAL_BIN;
  const bin = join(dir, "kanal");
  const r = spawnSync("go", ["build", "-o", bin, "./cmd/kanal"], { cwd: repoRoot, stdio: "inherit", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`go build ./cmd/kanal failed (${r.status ?? r.signal})`);
  return bin;
}

export function cli(bin: string, args: string[]): string {
  const r = spawnSync(bin, args, { env: cleanEnv(), encoding: "utf8", timeout: 60_000, cwd: tmpdir() });
  if (r.status !== 0) throw new Error(`kanal ${args.join(" ")}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `kanal setup` and `kanal token create` in dataDir; returns the API token. */
export function provision(bin: string, dataDir: string): string {
  mkdirSync(dataDir, { recursive: true });
  cli(bin, ["setup", "--workspace", "Işık Mağazaları", "--email", OWNER.email, "--password", OWNER.password, "--name", OWNER.name, "--data", dataDir]);
  const token = cli(bin, ["token", "create", "--email", OWNER.email, "--name", "e2e-web", "--data", dataDir]).trim();
  if (!/^kanal_\S+$/.test(token)) throw new Error(`token create printed ${JSON.stringify(token)}`);
  return token;
}

export interface Running {
  url: string;
  proc: ChildProcess;
  logs: () => string;
  stop: () => Promise<void>;
}

/** Starts `kanal serve` on 127.0.0.1 with a free port and waits for its "kanal is running" line. */
export function serve(bin: string, dataDir: string): Promise<Running> {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(bin, ["serve", "--addr", "127.0.0.1:0", "--data", dataDir, "--log-format", "json"], {
      env: cleanEnv(),
      cwd: tmpdir(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let partial = "";
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      proc.kill("SIGKILL");
      reject(new Error(`kanal serve did not start within 30 s:\n${out}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      partial += chunk.toString();
      let i: number;
      while ((i = partial.indexOf("\n")) >= 0) {
        const line = partial.slice(0, i);
        partial = partial.slice(i + 1);
        try {
          const rec = JSON.parse(line);
          if (!done && rec.msg === "kanal is running" && typeof rec.url === "string") {
            done = true;
            clearTimeout(timer);
            resolvePromise({
              url: rec.url,
              proc,
              logs: () => out,
              stop: () =>
                new Promise<void>((r) => {
                  if (proc.exitCode !== null) return r();
                  proc.once("exit", () => r());
                  proc.kill("SIGTERM");
                  setTimeout(() => proc.kill("SIGKILL"), 10_000).unref();
                }),
            });
          }
        } catch {
          /* not JSON */
        }
      }
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    proc.once("exit", (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`kanal serve exited with ${code} before it was running:\n${out}`));
    });
  });
}

/** A stand-in for an integrator's system: the api inbox's callback_url. It accepts every reply. */
export function callbackServer(): Promise<{ url: string; server: Server; received: unknown[] }> {
  const received: unknown[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      try {
        received.push(JSON.parse(body));
      } catch {
        received.push(body);
      }
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ id: `cb-${received.length}` }));
    });
  });
  return new Promise((r) =>
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      const port = typeof a === "object" && a ? a.port : 0;
      r({ url: `http://127.0.0.1:${port}/replies`, server, received });
    }),
  );
}

/** Calls Kanal's API with the token (a plain fetch: no browser involved). */
export async function apiCall<T = unknown>(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; data: T }> {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let data: unknown = text;
  try {
    data = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, data: data as T };
}
