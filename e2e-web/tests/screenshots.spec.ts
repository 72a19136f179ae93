import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { apiCall, repoRoot } from "../kanal";
import { expect, postInbound, test, uniq } from "./fixtures";

// Screenshots of a small, realistic workspace on its own fresh server. They
// land in docs/screenshots when UPDATE_SCREENSHOTS=1 (make screenshots), and
// in the test output otherwise, so that `make test` leaves the tree clean.
test("screenshots: inbox, conversation, admin inboxes (1280x800)", async ({ page, kanal, freshKanal }) => {
  void kanal;
  const dir = process.env.UPDATE_SCREENSHOTS ? join(repoRoot, "docs", "screenshots") : test.info().outputPath();
  mkdirSync(dir, { recursive: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  const k = await freshKanal({ provisioned: true });
  const s = k.state;
  const people = [
    { name: "Işık Yılmaz", email: "isik@example.com", phone: "0532 123 45 67", text: "Merhaba, 1042 numaralı siparişim nerede?", subject: "Sipariş 1042" },
    { name: "Çağla Öztürk", email: "cagla@example.com", text: "İade kodunu nasıl alabilirim?", subject: "İade" },
    { name: "Emre Şahin", email: "emre@example.com", text: "Mağazada beden değişimi yapılıyor mu?", subject: "Beden değişimi" },
    { name: "Gülşen Demir", email: "gulsen@example.com", text: "Faturamı e-posta ile alabilir miyim?", subject: "Fatura" },
  ];
  const convs: string[] = [];
  for (const p of people) {
    const r = await postInbound(s, { text: p.text, subject: p.subject, customer: { external_id: "c-" + uniq(), name: p.name, email: p.email, phone: p.phone } });
    convs.push(r.conversation_id);
  }
  const first = convs[0];
  const reply = await apiCall(s.url, s.token, "POST", `/api/v1/conversations/${first}/messages`, { text: "Merhaba Işık Hanım, siparişiniz bugün kargoya verildi; yarın elinizde olacak." });
  expect(reply.status).toBe(201);
  await apiCall(s.url, s.token, "POST", `/api/v1/conversations/${first}/notes`, { text: "Kargo firmasıyla görüşüldü, takip no: TR-88412." });
  await apiCall(s.url, s.token, "PATCH", `/api/v1/conversations/${first}`, { priority: "high", labels: ["kargo", "vip"] });
  await postInbound(s, { text: "Çok teşekkürler, iyi çalışmalar!", customer: { email: "isik@example.com" } });
  await apiCall(s.url, s.token, "PATCH", `/api/v1/conversations/${convs[2]}`, { labels: ["mağaza"] });

  const cookie = await k.login();
  await page.context().addCookies([{ name: "kanal_session", value: cookie, url: s.url }]);
  await page.goto(s.url + "/");
  await expect(page.getByTestId("conversation-item")).toHaveCount(4);
  await page.screenshot({ path: join(dir, "inbox.png") });

  await page.getByTestId("conversation-item").filter({ hasText: "Işık Yılmaz" }).click();
  await expect(page.getByTestId("messages")).toContainText("Çok teşekkürler");
  await expect(page.getByTestId("ticks").first()).toHaveAttribute("data-status", "sent", { timeout: 30_000 });
  await expect(page.getByTestId("customer-panel")).toContainText("isik@example.com");
  await page.screenshot({ path: join(dir, "conversation.png") });

  await page.goto(s.url + "/admin/inboxes");
  await page.getByTestId("inbox-name").fill("Web sitesi");
  await page.getByTestId("create-inbox").getByRole("button", { name: "Oluştur" }).click();
  await expect(page.getByTestId("signing-secret")).toBeVisible();
  await page.screenshot({ path: join(dir, "admin-inboxes.png") });
});
