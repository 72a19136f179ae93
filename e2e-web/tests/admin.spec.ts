import { expect, test, uniq } from "./fixtures";

test("admin: create an api inbox and see its webhook URL and signing secret", async ({ app, kanal }) => {
  await app.goto("/admin/inboxes");
  await expect(app.getByTestId("inboxes-admin")).toBeVisible();
  const name = `Mağaza API ${uniq()}`;
  await app.getByTestId("inbox-name").fill(name);
  await app.getByTestId("create-inbox").getByRole("button", { name: "Oluştur" }).click();
  const created = app.getByTestId("created-inbox");
  await expect(created).toContainText(name);
  await expect(app.getByTestId("webhook-url")).toHaveText(new RegExp(`^${kanal.url}/api/v1/inboxes/[0-9a-f-]+/inbound$`));
  await expect(app.getByTestId("signing-secret")).toHaveText(/^[0-9a-f]{64}$/);
  await expect(app.getByTestId("inbox-row").filter({ hasText: name })).toBeVisible();
});

test("admin: teams with members, users and roles, workspace settings", async ({ app }) => {
  await app.goto("/admin/users");
  const email = `selin.${uniq()}@example.com`;
  const users = app.getByTestId("users-admin");
  await users.getByLabel("E-posta").fill(email);
  await users.getByLabel("Ad", { exact: true }).fill("Selin Aydın");
  await users.getByLabel("Parola").fill("correct-horse-43");
  await users.getByRole("button", { name: "Ekle" }).click();
  const row = app.getByTestId("member-row").filter({ hasText: email });
  await expect(row).toBeVisible();
  await row.getByLabel("Rol").selectOption("supervisor");
  await expect(row.getByLabel("Rol")).toHaveValue("supervisor");

  await app.getByTestId("admin-teams").click();
  const team = `Kargo Ekibi ${uniq()}`;
  const teams = app.getByTestId("teams-admin");
  await teams.getByLabel("Ad", { exact: true }).first().fill(team);
  await teams.getByLabel("Selin Aydın").first().check();
  await teams.getByRole("button", { name: "Oluştur" }).click();
  await expect(teams.locator("tr").filter({ hasText: team })).toContainText("Selin Aydın");

  await app.getByTestId("admin-settings").click();
  const form = app.getByTestId("workspace-form");
  await expect(form.getByLabel("Süreklilik süresi (gün)")).toHaveValue("7");
  await form.getByLabel("Süreklilik süresi (gün)").fill("10");
  await form.getByRole("button", { name: "Kaydet" }).click();
  await expect(form.getByRole("button", { name: "Kaydedildi" })).toBeVisible();
  await app.reload();
  await expect(app.getByTestId("workspace-form").getByLabel("Süreklilik süresi (gün)")).toHaveValue("10");
});
