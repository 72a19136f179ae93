import { OWNER } from "../kanal";
import { apiCall } from "../kanal";
import { expect, test } from "./fixtures";

test("log in with e-mail and password; the app is served with a strict CSP", async ({ page, kanal }) => {
  const cspErrors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
  });
  const res = await page.goto("/");
  const headers = res!.headers();
  expect(headers["content-security-policy"]).toContain("default-src 'self'");
  expect(headers["content-security-policy"]).not.toContain("unsafe-inline");
  expect(headers["x-frame-options"]).toBe("DENY");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["cache-control"]).toBe("no-cache");

  await expect(page.getByRole("heading", { name: "Giriş yap" })).toBeVisible();
  await page.getByLabel("E-posta").fill(OWNER.email);
  await page.getByLabel("Parola").fill("wrong-password-1");
  await page.getByRole("button", { name: "Giriş yap" }).click();
  await expect(page.getByRole("alert")).toHaveText("E-posta ya da parola yanlış.");

  await page.getByLabel("Parola").fill(OWNER.password);
  await page.getByRole("button", { name: "Giriş yap" }).click();
  await expect(page.getByTestId("nav-inbox")).toHaveText("Gelen kutusu");
  await expect(page.getByTestId("conversation-list")).toBeVisible();
  await expect(page.locator(".workspace-name")).toHaveText("Işık Mağazaları");
  expect(cspErrors).toEqual([]);
  void kanal;
});

test("first run: the setup page creates the workspace and logs in", async ({ page, kanal, freshKanal }) => {
  void kanal; // skips when the app is not mounted
  const k = await freshKanal({ provisioned: false });
  const probe = await apiCall<{ needed?: boolean }>(k.state.url, "", "GET", "/api/v1/setup");
  test.skip(probe.status === 404, "GET /api/v1/setup does not exist yet: the first-run page needs GET and POST /api/v1/setup");
  expect(probe.data.needed).toBe(true);

  await page.goto(k.state.url + "/");
  await expect(page.getByRole("heading", { name: "Kanal'ı kurun" })).toBeVisible();
  await page.getByLabel("Çalışma alanı adı").fill("Çiçek Pazarı");
  await page.getByLabel("Adınız").fill("İlkay Şahin");
  await page.getByLabel("E-posta").fill("ilkay@example.com");
  await page.getByLabel("Parola").fill("correct-horse-42");
  await page.getByRole("button", { name: "Çalışma alanını oluştur" }).click();
  await expect(page.getByTestId("nav-inbox")).toBeVisible();
  await expect(page.locator(".workspace-name")).toHaveText("Çiçek Pazarı");

  const again = await apiCall<{ needed?: boolean }>(k.state.url, "", "GET", "/api/v1/setup");
  expect(again.data.needed).toBe(false);
});
