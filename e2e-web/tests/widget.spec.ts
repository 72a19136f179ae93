import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Browser, FrameLocator, Page } from "@playwright/test";
import { apiCall, repoRoot } from "../kanal";
import type { E2EState } from "../global-setup";
import { expect, test, uniq } from "./fixtures";

// The web chat widget in a real browser: a shop's page, served by a tiny
// server on another loopback port (so the widget is cross-origin, as on a
// real site), embeds the loader tag; a visitor chats with an agent who works
// in the workspace. The shop's page carries hostile CSS to show the widget
// does not depend on it.

interface Widget {
  inboxId: string;
  key: string;
  secret: string;
  host: string;
  server: Server;
}

/** The shop's page. ?user=ID signs that user in (the shop's server computes the hmac, as in docs/widget.md). */
function shopServer(s: E2EState, embed: { key: string; secret: string }): Promise<{ host: string; server: Server }> {
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://shop");
    if (u.pathname !== "/") {
      res.writeHead(404).end();
      return;
    }
    const user = u.searchParams.get("user");
    const name = u.searchParams.get("name") ?? "Zeynep Kaya";
    const settings: { user?: { user_id: string; email: string; name: string; hmac: string } } = user
      ? { user: { user_id: user, email: `${user}@example.com`, name, hmac: createHmac("sha256", embed.secret).update(user).digest("hex") } }
      : {};
    const forged = u.searchParams.get("forged") === "1";
    if (forged && settings.user) settings.user.hmac = "0".repeat(64);
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(`<!doctype html>
<html lang="tr"><head><meta charset="utf-8"><title>Işık Mağazaları</title>
<style>
  /* A careless shop stylesheet: it must not break the widget. */
  iframe, button { display: none !important; }
  div { opacity: .3 !important; font-size: 40px !important; }
  * { box-sizing: content-box !important; }
</style></head>
<body><h1>Işık Mağazaları</h1><p>Yeni sezon ürünleri burada.</p>
<script>window.kanalSettings = ${JSON.stringify(settings).replace(/</g, "\\u003c")};</script>
<script src="${s.url}/widget.js" data-inbox="${embed.key}" async></script>
</body></html>`);
  });
  return new Promise((r) =>
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      const port = typeof a === "object" && a ? a.port : 0;
      r({ host: `http://127.0.0.1:${port}`, server });
    }),
  );
}

let widget: Widget | null = null;

async function setup(s: E2EState): Promise<Widget> {
  if (widget) return widget;
  const probe = await fetch(s.url + "/widget.js");
  test.skip(probe.status === 404, "GET /widget.js answers 404: the widget routes are not mounted yet");
  // The shop's origin is known once its server listens; the inbox allows only it.
  const embed = { key: "", secret: "" };
  const shop = await shopServer(s, embed);
  const ib = await apiCall<{ id: string }>(s.url, s.token, "POST", "/api/v1/inboxes", {
    type: "webchat",
    name: "Işık Mağazaları Canlı Destek",
    config: { greeting: { tr: "Merhaba! Size nasıl yardımcı olabiliriz?", en: "Hi! How can we help?" }, allowed_origins: [shop.host] },
  });
  expect(ib.status, JSON.stringify(ib.data)).toBe(201);
  const emb = await apiCall<{ public_key: string; identity_secret: string; embed: string }>(s.url, s.token, "GET", `/api/v1/inboxes/${ib.data.id}/widget`);
  expect(emb.status, JSON.stringify(emb.data)).toBe(200);
  expect(emb.data.embed).toContain(`data-inbox="${emb.data.public_key}"`);
  embed.key = emb.data.public_key;
  embed.secret = emb.data.identity_secret;
  widget = { inboxId: ib.data.id, key: emb.data.public_key, secret: emb.data.identity_secret, host: shop.host, server: shop.server };
  return widget;
}

test.afterAll(async () => {
  if (widget) await new Promise((r) => widget!.server.close(r));
  widget = null;
});

/** A visitor's page in its own browser context (its own localStorage). */
async function visit(browser: Browser, w: Widget, query = ""): Promise<{ page: Page; chat: FrameLocator }> {
  const ctx = await browser.newContext({ locale: "tr-TR", viewport: { width: 1100, height: 760 } });
  const page = await ctx.newPage();
  page.on("dialog", (d) => {
    throw new Error(`a dialog opened: ${d.message()}`);
  });
  await page.goto(w.host + "/" + query);
  return { page, chat: page.frameLocator('iframe[title="Canlı destek sohbeti"]') };
}

async function openChat(page: Page, chat: FrameLocator) {
  const launcher = page.getByRole("button", { name: /Canlı desteği aç/ });
  await expect(launcher).toBeVisible();
  await expect(launcher).toHaveAttribute("aria-expanded", "false");
  await launcher.click();
  await expect(page.getByRole("button", { name: /Canlı desteği kapat/ })).toHaveAttribute("aria-expanded", "true");
  await expect(chat.getByRole("dialog")).toBeVisible();
  // Focus moves into the chat: the composer takes keyboard input at once.
  await expect(chat.getByLabel("Mesajınız")).toBeFocused();
}

async function say(chat: FrameLocator, text: string) {
  await chat.getByLabel("Mesajınız").fill(text);
  await chat.getByLabel("Mesajınız").press("Enter");
  await expect(chat.locator('[data-testid=widget-message][data-author=visitor]').filter({ hasText: text })).toBeVisible();
  await expect(chat.locator('[data-testid=widget-message][data-author=visitor]').filter({ hasText: text })).not.toContainText("Gönderiliyor");
}

async function conversationOf(s: E2EState, w: Widget, text: string): Promise<string> {
  let found = "";
  await expect
    .poll(async () => {
      const r = await apiCall<{ items: { id: string }[] }>(s.url, s.token, "GET", `/api/v1/conversations?inbox=${w.inboxId}`);
      for (const c of r.data.items ?? []) {
        const m = await apiCall<{ items: { text: string }[] }>(s.url, s.token, "GET", `/api/v1/conversations/${c.id}/messages`);
        if ((m.data.items ?? []).some((x) => x.text === text)) {
          found = c.id;
          return true;
        }
      }
      return false;
    })
    .toBe(true);
  return found;
}

test("a visitor chats with an agent live: typing, reply, seen, history after a reload", async ({ app, kanal, browser }) => {
  const w = await setup(kanal);
  const name = `Zeynep Kaya ${uniq()}`;
  const user = "u-" + uniq();
  // The agent is at work before the visitor writes.
  await app.goto("/");
  await expect(app.getByTestId("live-status")).toHaveAttribute("data-status", "live");

  const { page, chat } = await visit(browser, w, `?user=${user}&name=${encodeURIComponent(name)}`);
  await openChat(page, chat);
  await expect(chat.getByText("Merhaba! Size nasıl yardımcı olabiliriz?")).toBeVisible();
  await expect(chat.getByTestId("widget-status")).toContainText("Çevrimiçiyiz");
  await say(chat, "Merhaba, siparişim nerede?");

  // It appears in the agent's inbox without a reload.
  const item = app.getByTestId("conversation-item").filter({ hasText: name });
  await expect(item).toBeVisible();
  await item.click();
  await expect(app.getByTestId("messages")).toContainText("Merhaba, siparişim nerede?");

  // Typing, both ways.
  await app.getByTestId("composer-text").pressSequentially("Hemen bak");
  await expect(chat.getByTestId("widget-typing")).toHaveText("Destek ekibi yazıyor…");
  await chat.getByLabel("Mesajınız").pressSequentially("Sipariş no 1042");
  await expect(app.locator(".typing")).toContainText("yazıyor");

  // The reply reaches the visitor.
  await app.getByTestId("composer-text").fill("Merhaba, siparişiniz bugün kargoya verildi.");
  await app.getByTestId("composer-send").click();
  const reply = chat.locator("[data-testid=widget-message][data-author=agent]").filter({ hasText: "kargoya verildi" });
  await expect(reply).toBeVisible();
  await expect(chat.getByTestId("widget-typing")).toHaveText("");
  // The visitor had the chat open: the agent sees the reply read.
  const out = app.locator("[data-testid=message][data-direction=out]").filter({ hasText: "kargoya verildi" });
  await expect(out.getByTestId("ticks")).toHaveAttribute("data-status", "read");

  // The agent reads the visitor's message: "seen".
  const conv = await conversationOf(kanal, w, "Merhaba, siparişim nerede?");
  const msgs = await apiCall<{ items: { id: string; direction: string }[] }>(kanal.url, kanal.token, "GET", `/api/v1/conversations/${conv}/messages`);
  const last = msgs.data.items.filter((m) => m.direction === "in").pop()!;
  expect((await apiCall(kanal.url, kanal.token, "POST", `/api/v1/conversations/${conv}/read`, { message_id: last.id })).status).toBe(200);
  await expect(chat.getByTestId("widget-seen")).toHaveText(/Görüldü/);

  // A reload keeps the history (token in localStorage) and the open chat.
  await page.reload();
  await expect(chat.getByTestId("widget-messages")).toContainText("Merhaba, siparişim nerede?");
  await expect(chat.getByTestId("widget-messages")).toContainText("kargoya verildi");

  // Escape closes it and gives the focus back to the launcher.
  await chat.getByLabel("Mesajınız").press("Escape");
  await expect(page.getByRole("button", { name: /Canlı desteği aç/ })).toBeFocused();

  // A reply while closed: the launcher shows it unread.
  await app.getByTestId("composer-text").fill("Başka bir sorunuz var mı?");
  await app.getByTestId("composer-send").click();
  await expect(page.getByRole("button", { name: /1 okunmamış mesaj/ })).toBeVisible();
  await page.context().close();
});

test("an anonymous visitor keeps the history across reloads; attachments with limits explained", async ({ kanal, browser }) => {
  const w = await setup(kanal);
  const { page, chat } = await visit(browser, w);
  await openChat(page, chat);
  await say(chat, "Anonim soru: iade nasıl yapılır?");
  await chat.getByTestId("widget-file").setInputFiles({ name: "fatura.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.7\n1 0 obj\n") });
  await expect(chat.locator("[data-testid=widget-message][data-author=visitor]").filter({ hasText: "fatura.pdf" })).not.toContainText("Gönderiliyor");
  // Limits, explained before anything is sent.
  await chat.getByTestId("widget-file").setInputFiles({ name: "sayfa.html", mimeType: "text/html", buffer: Buffer.from("<script>alert(1)</script>") });
  await expect(chat.getByTestId("widget-alert")).toContainText("Bu dosya türü gönderilemez");
  await chat.getByTestId("widget-file").setInputFiles({ name: "büyük.png", mimeType: "image/png", buffer: Buffer.alloc(11 * 1024 * 1024) });
  await expect(chat.getByTestId("widget-alert")).toContainText("10 MB");
  await expect(chat.getByText("En fazla 10 MB: resimler, PDF")).toBeVisible();
  await page.reload();
  await expect(chat.getByTestId("widget-messages")).toContainText("Anonim soru: iade nasıl yapılır?");
  await expect(chat.getByTestId("widget-messages")).toContainText("fatura.pdf");
  await page.context().close();
});

test("an identified visitor sees one conversation in two browsers; a forged signature sees nothing", async ({ kanal, browser }) => {
  const w = await setup(kanal);
  const user = "u-" + uniq();
  const a = await visit(browser, w, `?user=${user}&name=Ali`);
  await openChat(a.page, a.chat);
  await say(a.chat, "Telefondan yazıyorum");
  const b = await visit(browser, w, `?user=${user}&name=Ali`);
  await openChat(b.page, b.chat);
  await expect(b.chat.getByTestId("widget-messages")).toContainText("Telefondan yazıyorum");
  await say(b.chat, "Şimdi bilgisayardan");
  await expect(a.chat.getByTestId("widget-messages")).toContainText("Şimdi bilgisayardan");
  const c1 = await conversationOf(kanal, w, "Telefondan yazıyorum");
  const c2 = await conversationOf(kanal, w, "Şimdi bilgisayardan");
  expect(c2).toBe(c1);

  const f = await visit(browser, w, `?user=${user}&name=Ali&forged=1`);
  await openChat(f.page, f.chat);
  await expect(f.chat.getByText("Merhaba! Size nasıl yardımcı olabiliriz?")).toBeVisible();
  await expect(f.chat.getByTestId("widget-message")).toHaveCount(0);
  for (const v of [a, b, f]) await v.page.context().close();
});

test("script in the visitor's name, text and file name never runs in the workspace", async ({ app, kanal, browser }) => {
  const w = await setup(kanal);
  const payload = `<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>`;
  const name = `Eve ${uniq()} ${payload}`;
  const { page, chat } = await visit(browser, w, `?user=u-${uniq()}&name=${encodeURIComponent(name)}`);
  await openChat(page, chat);
  await say(chat, `Merhaba ${payload}`);
  const file = `"><img src=x onerror="window.__xss=1">.png`;
  const png = Buffer.from(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000" + "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082",
    "hex",
  );
  await chat.getByTestId("widget-file").setInputFiles({ name: file, mimeType: "image/png", buffer: png });
  await expect(chat.locator("[data-testid=widget-message][data-author=visitor] img")).toHaveCount(1);
  expect(await chat.locator("body").evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();

  app.on("dialog", (d) => {
    throw new Error(`a dialog opened in the workspace: ${d.message()}`);
  });
  const conv = await conversationOf(kanal, w, `Merhaba ${payload}`);
  await app.goto(`/conversations/${conv}`);
  await expect(app.getByTestId("messages")).toContainText(`Merhaba ${payload}`);
  await expect(app.getByTestId("conversation-customer")).toContainText(payload);
  // The browser sends the name's quotes as %22; either way it is text.
  await expect(app.getByTestId("messages")).toContainText(/><img src=x onerror=(%22|")window\.__xss=1(%22|")>\.png/);
  await app.waitForTimeout(500);
  expect(await app.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  await page.context().close();
});

test("offline (outside business hours): the widget says so and takes an e-mail for the answer", async ({ kanal, browser }) => {
  const embed = { key: "", secret: "" };
  const shop = await shopServer(kanal, embed);
  try {
    const ib = await apiCall<{ id: string }>(kanal.url, kanal.token, "POST", "/api/v1/inboxes", {
      type: "webchat",
      name: "Gece Destek",
      config: {
        allowed_origins: [shop.host],
        business_hours: { timezone: "Europe/Istanbul", days: {} }, // never open
        offline_message: { tr: "Mesai saatleri dışındayız.", en: "We are closed." },
      },
    });
    expect(ib.status, JSON.stringify(ib.data)).toBe(201);
    const emb = await apiCall<{ public_key: string; identity_secret: string }>(kanal.url, kanal.token, "GET", `/api/v1/inboxes/${ib.data.id}/widget`);
    embed.key = emb.data.public_key;
    embed.secret = emb.data.identity_secret;
    const w: Widget = { inboxId: ib.data.id, key: embed.key, secret: embed.secret, host: shop.host, server: shop.server };
    const { page, chat } = await visit(browser, w);
    await openChat(page, chat);
    await expect(chat.getByTestId("widget-status")).toHaveText("Mesai saatleri dışındayız.");
    const form = chat.getByTestId("widget-offline");
    await expect(form).toContainText("E-posta adresinizi bırakın");
    await form.getByLabel("E-posta adresiniz").fill("yanlis-adres");
    await form.getByRole("button", { name: "Kaydet" }).click();
    await expect(form.getByRole("alert")).toContainText("Geçerli bir e-posta");
    await form.getByLabel("E-posta adresiniz").fill("gece@example.com");
    await form.getByRole("button", { name: "Kaydet" }).click();
    await expect(chat.getByText("Teşekkürler, size e-postayla döneceğiz.")).toBeVisible();
    await say(chat, "Yarın sabah dönüş yapabilir misiniz?");
    const conv = await conversationOf(kanal, w, "Yarın sabah dönüş yapabilir misiniz?");
    const c = await apiCall<{ customer_id: string }>(kanal.url, kanal.token, "GET", `/api/v1/conversations/${conv}`);
    const cust = await apiCall<{ email: string }>(kanal.url, kanal.token, "GET", `/api/v1/customers/${c.data.customer_id}`);
    expect(cust.data.email).toBe("gece@example.com");
    await page.context().close();
  } finally {
    await new Promise((r) => shop.server.close(r));
  }
});

// The screenshot lands in docs/screenshots when UPDATE_SCREENSHOTS=1 (make screenshots), in the test output otherwise.
test("screenshot: the widget on a shop's page", async ({ app, kanal, browser }) => {
  const w = await setup(kanal);
  await app.goto("/"); // an agent at work: the widget is online
  await expect(app.getByTestId("live-status")).toHaveAttribute("data-status", "live");
  const dir = process.env.UPDATE_SCREENSHOTS ? join(repoRoot, "docs", "screenshots") : test.info().outputPath();
  mkdirSync(dir, { recursive: true });
  const { page, chat } = await visit(browser, w, `?user=u-${uniq()}&name=${encodeURIComponent("Işık Yılmaz")}`);
  await page.setViewportSize({ width: 1280, height: 800 });
  await openChat(page, chat);
  await say(chat, "Merhaba, 1042 numaralı siparişim nerede?");
  const conv = await conversationOf(kanal, w, "Merhaba, 1042 numaralı siparişim nerede?");
  await apiCall(kanal.url, kanal.token, "POST", `/api/v1/conversations/${conv}/messages`, { text: "Merhaba Işık Hanım, siparişiniz bugün kargoya verildi; yarın elinizde olacak." });
  await expect(chat.locator("[data-testid=widget-message][data-author=agent]").filter({ hasText: "kargoya verildi" })).toBeVisible();
  await expect(chat.getByTestId("widget-status")).toContainText("Çevrimiçiyiz");
  await chat.getByLabel("Mesajınız").fill("Çok teşekkürler!");
  await page.screenshot({ path: join(dir, "widget.png") });
  await page.context().close();
});
