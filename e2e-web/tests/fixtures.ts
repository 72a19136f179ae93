import { test as base, expect, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import type { E2EState } from "../global-setup";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { apiCall, callbackServer, OWNER, provision, serve, tempDir } from "../kanal";

export { expect };

export function state(): E2EState {
  const f = process.env.KANAL_E2E_STATE;
  if (!f) throw new Error("KANAL_E2E_STATE is not set: run through playwright.config.ts (global setup)");
  return JSON.parse(readFileSync(f, "utf8"));
}

let seq = 0;
/** A unique suffix for ids and names within this run. */
export function uniq(): string {
  return `${Date.now().toString(36)}${(seq++).toString(36)}`;
}

export interface Inbound {
  text?: string;
  subject?: string;
  customer: { external_id?: string; name?: string; email?: string; phone?: string };
  attachments?: { url: string; file_name: string; content_type: string; size: number }[];
}

/** Posts a customer message to the api inbox, as an integrator would. */
export async function postInbound(s: E2EState, msg: Inbound) {
  const r = await apiCall<{ conversation_id: string; customer_id: string; message_id: string }>(
    s.url,
    s.token,
    "POST",
    `/api/v1/inboxes/${s.inboxId}/inbound`,
    { external_message_id: "m-" + uniq(), ...msg },
  );
  expect(r.status, JSON.stringify(r.data)).toBe(202);
  return r.data;
}

/** Logs the owner in once per worker through the API and returns the session cookie. */
async function login(s: E2EState): Promise<string> {
  const res = await fetch(s.url + "/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: OWNER.email, password: OWNER.password }),
  });
  expect(res.status).toBe(200);
  const m = /kanal_session=([^;]+)/.exec(res.headers.get("set-cookie") ?? "");
  if (!m) throw new Error("login set no kanal_session cookie");
  return m[1];
}

export const test = base.extend<{ kanal: E2EState; app: Page; freshKanal: (opts: { provisioned: boolean }) => Promise<Fresh> }, { session: string }>({
  kanal: async ({}, use, testInfo) => {
    const s = state();
    testInfo.skip(!!s.unavailable, s.unavailable);
    await use(s);
  },
  baseURL: async ({}, use) => {
    await use(state().url);
  },
  session: [
    async ({}, use) => {
      const s = state();
      await use(s.unavailable ? "" : await login(s));
    },
    { scope: "worker" },
  ],
  /** Starts extra servers for the test; they are stopped when it ends, however it ends. */
  freshKanal: async ({}, use) => {
    const made: Fresh[] = [];
    await use(async (opts) => {
      const f = await startFresh(opts);
      made.push(f);
      return f;
    });
    for (const f of made) await f.close();
  },
  /** A page of a logged-in owner. */
  app: async ({ page, context, kanal, session }, use) => {
    await context.addCookies([{ name: "kanal_session", value: session, url: kanal.url }]);
    await use(page);
  },
});

/** A second Kanal of its own (fresh data folder) for tests that need a clean or empty install. */
async function startFresh(opts: { provisioned: boolean }): Promise<Fresh> {
  const s = state();
  const tmp = tempDir("kanal-web-e2e-fresh-");
  const data = join(tmp, "data");
  const stops: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const f of stops.reverse()) await f();
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    const token = opts.provisioned ? provision(s.bin, data) : "";
    const cb = await callbackServer();
    stops.push(() => new Promise((r) => cb.server.close(r)));
    const k = await serve(s.bin, data);
    stops.push(() => k.stop());
    let inboxId = "";
    if (opts.provisioned) {
      const ib = await apiCall<{ id: string }>(k.url, token, "POST", "/api/v1/inboxes", { type: "api", name: "Mobil uygulama", config: { callback_url: cb.url } });
      if (ib.status !== 201) throw new Error(`create inbox: ${ib.status} ${JSON.stringify(ib.data)}`);
      inboxId = ib.data.id;
    }
    const st: E2EState = { ...s, url: k.url, token, inboxId, tmp };
    return { state: st, login: () => login(st), close };
  } catch (e) {
    await close();
    throw e;
  }
}

export interface Fresh {
  state: E2EState;
  login: () => Promise<string>;
  close: () => Promise<void>;
}
