import { expect, test, uniq } from "./fixtures";

// Admin → Inboxes: the channel forms, the connection test and field errors.

test("admin: create a telegram inbox, see its webhook URL, test the connection (it fails)", async ({ app, kanal }) => {
  await app.goto("/admin/inboxes");
  const form = app.getByTestId("create-inbox");
  await form.getByTestId("inbox-type").selectOption("telegram");
  const name = `Telegram destek ${uniq()}`;
  await form.getByTestId("inbox-name").fill(name);
  await form.getByTestId("f-bot_token").fill("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw");
  await expect(form.getByTestId("f-bot_token")).toHaveAttribute("type", "password");
  await expect(form.getByTestId("f-set_webhook")).toBeChecked();
  await form.getByTestId("f-set_webhook").uncheck();
  await form.getByText("Gelişmiş").click();
  await form.getByTestId("f-api_base_url").fill("http://127.0.0.1:9/");
  await form.getByRole("button", { name: "Oluştur" }).click();

  const created = app.getByTestId("created-inbox");
  await expect(created).toContainText(name);
  await expect(created.getByTestId("webhook-url")).toHaveText(new RegExp(`^${kanal.url}/\\S+$`));
  await expect(created.getByTestId("secret-token")).toHaveText(/^[0-9a-f]{64}$/);
  await expect(created.getByTestId("setup-error")).toHaveCount(0);

  await created.getByRole("button", { name: "Bağlantıyı sına" }).click();
  await expect(created.getByTestId("test-result")).toContainText("Bağlantı kurulamadı");

  const row = app.getByTestId("inbox-row").filter({ hasText: name });
  await expect(row.getByTestId("row-webhook-url")).toHaveText(new RegExp(`^${kanal.url}/`));
  await row.getByRole("button", { name: "Bağlantıyı sına" }).click();
  await expect(row.getByTestId("test-result")).toContainText("Bağlantı kurulamadı");
  // the bot token is never shown back
  await expect(app.getByTestId("inboxes-admin")).not.toContainText("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw");
});

test("admin: a whatsapp inbox without phone_number_id shows the field error", async ({ app }) => {
  await app.goto("/admin/inboxes");
  const form = app.getByTestId("create-inbox");
  await form.getByTestId("inbox-type").selectOption("whatsapp");
  const name = `WhatsApp ${uniq()}`;
  await form.getByTestId("inbox-name").fill(name);
  await form.getByTestId("f-access_token").fill("EAAG-test");
  await form.getByTestId("f-app_secret").fill("8a1f-test");
  await form.getByRole("button", { name: "Oluştur" }).click();

  const input = form.getByTestId("f-phone_number_id");
  await expect(input).toHaveAttribute("aria-invalid", "true");
  await expect(form.locator("#f-phone_number_id-err")).toContainText("is required");
  await expect(app.getByTestId("created-inbox")).toHaveCount(0);
  await expect(app.getByTestId("inbox-row").filter({ hasText: name })).toHaveCount(0);
});

test("admin: a webchat inbox shows its embed tag after creation", async ({ app }) => {
  await app.goto("/admin/inboxes");
  const form = app.getByTestId("create-inbox");
  await form.getByTestId("inbox-type").selectOption("webchat");
  await form.getByTestId("inbox-name").fill(`Canlı destek ${uniq()}`);
  await form.getByTestId("f-allowed_origins").fill("https://www.example.com");
  await form.getByTestId("f-pre_chat").selectOption("name_email");
  await form.getByTestId("f-greeting-tr").fill("Merhaba! Size nasıl yardımcı olabiliriz?");
  await form.getByRole("button", { name: "Oluştur" }).click();
  const created = app.getByTestId("created-inbox");
  await expect(created.getByTestId("embed-code")).toContainText("<script");
  await created.getByRole("button", { name: "Bağlantıyı sına" }).click();
  await expect(created.getByTestId("test-result")).toContainText("bağlantı sınaması yok");
});
