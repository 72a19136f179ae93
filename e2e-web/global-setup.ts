import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiCall, buildKanal, callbackServer, provision, serve, tempDir } from "./kanal";

export interface E2EState {
  url: string;
  token: string;
  inboxId: string;
  bin: string;
  tmp: string;
  /** Why the browser tests cannot run (the web app is not mounted), or "". */
  unavailable: string;
  /** Whether /api/v1/ws exists yet. */
  socket: boolean;
}

// Builds and starts one Kanal for the whole run: `go build ./cmd/kanal`,
// `kanal setup`, `kanal token create`, `kanal serve --addr 127.0.0.1:0`, an
// api inbox whose callback_url is a local stand-in that accepts replies.
export default async function globalSetup() {
  const tmp = tempDir("kanal-web-e2e-");
  const cleanups: (() => Promise<unknown> | void)[] = [];
  const teardown = async () => {
    for (const f of cleanups.reverse()) await f();
    if (!process.env.KANAL_E2E_KEEP) rmSync(tmp, { recursive: true, force: true });
  };
  try {
    const bin = buildKanal(tmp);
    const data = join(tmp, "data");
    const token = provision(bin, data);
    const cb = await callbackServer();
    cleanups.push(() => new Promise((r) => cb.server.close(r)));
    const kanal = await serve(bin, data);
    cleanups.push(() => kanal.stop());

    const ib = await apiCall<{ id: string }>(kanal.url, token, "POST", "/api/v1/inboxes", {
      type: "api",
      name: "Mobil uygulama",
      config: { callback_url: cb.url },
    });
    if (ib.status !== 201) throw new Error(`create inbox: ${ib.status} ${JSON.stringify(ib.data)}`);

    // Is the workspace app mounted at /? Until routes.go serves it, say so instead of failing every test.
    const home = await fetch(kanal.url + "/");
    const html = await home.text();
    const unavailable = home.ok && html.includes('id="root"') ? "" : `GET / answered ${home.status}: the workspace app is not mounted (add the "/" route)`;
    if (unavailable && process.env.KANAL_E2E_REQUIRE_APP) throw new Error(unavailable);
    // The WebSocket endpoint: a plain GET on it answers 404 no_route until it exists.
    const ws = await fetch(kanal.url + "/api/v1/ws");
    const socket = ws.status !== 404;

    const state: E2EState = { url: kanal.url, token, inboxId: ib.data.id, bin, tmp, unavailable, socket };
    const stateFile = join(tmp, "state.json");
    writeFileSync(stateFile, JSON.stringify(state));
    process.env.KANAL_E2E_STATE = stateFile;
    console.log(`kanal for browser tests at ${kanal.url}${socket ? "" : " (no WebSocket yet: the app polls)"}`);
    if (unavailable) console.log(`\n*** every browser test is skipped: ${unavailable} ***\n`);
  } catch (e) {
    await teardown();
    throw e;
  }
  return teardown;
}
