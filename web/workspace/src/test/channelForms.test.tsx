import { afterEach, describe, expect, test, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { CHANNEL_FIELDS, CHANNEL_TYPES, initialValues, otherFieldErrors, toConfig, type FormValues } from "../admin/channelForms";
import { dictionaries, I18nProvider } from "../i18n";
import { InboxesAdmin } from "../admin/Inboxes";

const fill = (type: string, v: FormValues) => toConfig(type, { ...initialValues(type), ...v });

describe("inbox forms: form to config", () => {
  test("every server type has a form", () => {
    expect(CHANNEL_TYPES.sort()).toEqual(["api", "email", "instagram", "messenger", "netgsm", "telegram", "twilio", "webchat", "whatsapp"]);
  });

  test("api", () => {
    expect(fill("api", {})).toBeUndefined();
    expect(fill("api", { callback_url: " https://x.example/cb " })).toEqual({ callback_url: "https://x.example/cb" });
  });

  test("whatsapp: empty optional fields (verify_token, waba_id, api_base_url) are left out", () => {
    expect(fill("whatsapp", { phone_number_id: " 106540352242922 ", access_token: "EAAG", app_secret: "8a1f" })).toEqual({
      phone_number_id: "106540352242922",
      access_token: "EAAG",
      app_secret: "8a1f",
    });
    expect(
      fill("whatsapp", { phone_number_id: "1", access_token: "a", app_secret: "b", verify_token: "v", waba_id: "2", api_base_url: "http://127.0.0.1:9/" }),
    ).toEqual({ phone_number_id: "1", access_token: "a", app_secret: "b", verify_token: "v", waba_id: "2", api_base_url: "http://127.0.0.1:9/" });
    expect(fill("whatsapp", { phone_number_id: "" })).toBeUndefined();
  });

  test("messenger and instagram", () => {
    expect(fill("messenger", { page_id: "10", access_token: "t", app_secret: "s", verify_token: "v" })).toEqual({
      page_id: "10",
      access_token: "t",
      app_secret: "s",
      verify_token: "v",
    });
    expect(fill("instagram", { instagram_id: "17", access_token: "t", app_secret: "s" })).toEqual({ instagram_id: "17", access_token: "t", app_secret: "s" });
    expect(fill("instagram", { instagram_id: "17", page_id: "10", access_token: "t", app_secret: "s", api_base_url: "https://graph.instagram.com/v21.0" })).toEqual({
      instagram_id: "17",
      page_id: "10",
      access_token: "t",
      app_secret: "s",
      api_base_url: "https://graph.instagram.com/v21.0",
    });
  });

  test("telegram: set_webhook on by default, always sent", () => {
    expect(fill("telegram", { bot_token: "123:AAH" })).toEqual({ bot_token: "123:AAH", set_webhook: true });
    expect(fill("telegram", { bot_token: "123:AAH", set_webhook: false, api_base_url: "http://127.0.0.1:9/" })).toEqual({
      bot_token: "123:AAH",
      set_webhook: false,
      api_base_url: "http://127.0.0.1:9/",
    });
  });

  test("twilio", () => {
    expect(fill("twilio", { account_sid: "AC1", auth_token: "tok", from: "whatsapp:+905321234567" })).toEqual({
      account_sid: "AC1",
      auth_token: "tok",
      from: "whatsapp:+905321234567",
    });
  });

  test("netgsm: iys_recipient_type only when commercial", () => {
    const base = { usercode: "850", password: "pw", msgheader: "MAGAZA", iys_recipient_type: "merchant" };
    expect(fill("netgsm", base)).toEqual({ usercode: "850", password: "pw", msgheader: "MAGAZA", commercial: false });
    expect(fill("netgsm", { ...base, commercial: true })).toEqual({
      usercode: "850",
      password: "pw",
      msgheader: "MAGAZA",
      commercial: true,
      iys_recipient_type: "merchant",
    });
    expect(fill("netgsm", { ...base, iys_recipient_type: "individual", commercial: true })).toMatchObject({ iys_recipient_type: "individual" });
  });

  test("email: nested imap/smtp/dkim objects, flat secrets, ports as numbers", () => {
    expect(fill("email", { address: "destek@magaza.com.tr" })).toEqual({ address: "destek@magaza.com.tr" });
    expect(
      fill("email", {
        address: "destek@magaza.com.tr",
        "imap.host": "imap.gmail.com",
        "imap.port": "993",
        "imap.tls": "tls",
        "imap.username": "destek@magaza.com.tr",
        "imap.folder": "INBOX",
        imap_password: "app pw",
        "smtp.host": "smtp.gmail.com",
        "smtp.port": "587",
        "smtp.tls": "starttls",
        "smtp.username": "destek@magaza.com.tr",
        smtp_password: "app pw2",
        "dkim.selector": "kanal",
        "dkim.domain": "magaza.com.tr",
      }),
    ).toEqual({
      address: "destek@magaza.com.tr",
      imap: { host: "imap.gmail.com", port: 993, tls: "tls", username: "destek@magaza.com.tr", folder: "INBOX" },
      imap_password: "app pw",
      smtp: { host: "smtp.gmail.com", port: 587, tls: "starttls", username: "destek@magaza.com.tr" },
      smtp_password: "app pw2",
      dkim: { selector: "kanal", domain: "magaza.com.tr" },
    });
    // a secret keeps its spaces; a port that is not a number goes as typed, for the server to refuse
    expect(fill("email", { address: "a@b.co", "smtp.host": "h", "smtp.port": "x", smtp_password: " p " })).toEqual({
      address: "a@b.co",
      smtp: { host: "h", port: "x" },
      smtp_password: " p ",
    });
  });

  test("webchat: origins list, pre_chat, greetings by language", () => {
    expect(fill("webchat", {})).toEqual({ pre_chat: "none" });
    expect(
      fill("webchat", {
        allowed_origins: "https://www.example.com\nhttps://shop.example.com, ",
        pre_chat: "name_email",
        "greeting.tr": "Merhaba!",
        "greeting.en": "Hi!",
        "offline_message.tr": "Şu an çevrimdışıyız.",
      }),
    ).toEqual({
      allowed_origins: ["https://www.example.com", "https://shop.example.com"],
      pre_chat: "name_email",
      greeting: { tr: "Merhaba!", en: "Hi!" },
      offline_message: { tr: "Şu an çevrimdışıyız." },
    });
  });

  test("field errors no form field shows are kept for the banner", () => {
    expect(otherFieldErrors("whatsapp", { "config.phone_number_id": "x", name: "y", "config.foo": "z" })).toEqual({ "config.foo": "z" });
  });

  test("every label and option has both languages", () => {
    const need = new Set<string>();
    for (const [type, fields] of Object.entries(CHANNEL_FIELDS)) {
      need.add(`type.${type}`);
      for (const f of fields) {
        need.add(`ch.${f.key}`);
        if (f.kind === "select" && !f.options?.includes("")) for (const o of f.options ?? []) need.add(`opt.${f.key}.${o}`);
      }
    }
    for (const k of ["signing_secret", "verify_token", "secret_token", "identity_secret", "reply_token_key", "dkim_private_key"]) need.add(`ch.${k}`);
    for (const locale of ["tr", "en"] as const) expect([...need].filter((k) => !(k in dictionaries[locale]))).toEqual([]);
  });
});

describe("inbox form", () => {
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
  });

  test("shows a 400's config field errors next to the fields", async () => {
    const calls: { url: string; body?: string }[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init?: RequestInit) => {
        calls.push({ url, body: init?.body as string | undefined });
        if (init?.method === "POST")
          return new Response(
            JSON.stringify({ error: { code: "invalid", message: "invalid input", fields: { "config.phone_number_id": "is required: the Phone number ID" } } }),
            { status: 400 },
          );
        return new Response(JSON.stringify({ items: [] }), { status: 200 });
      }),
    );
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(
      <QueryClientProvider client={qc}>
        <I18nProvider locale="en">
          <InboxesAdmin />
        </I18nProvider>
      </QueryClientProvider>,
    );
    fireEvent.change(screen.getByTestId("inbox-type"), { target: { value: "whatsapp" } });
    fireEvent.change(screen.getByTestId("inbox-name"), { target: { value: "WA" } });
    fireEvent.change(screen.getByLabelText(/Access token/), { target: { value: "tok" } });
    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    await waitFor(() => expect(screen.getByText("is required: the Phone number ID")).toBeTruthy());
    const input = screen.getByTestId("f-phone_number_id");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    const post = calls.find((c) => c.body);
    expect(JSON.parse(post!.body!)).toEqual({ type: "whatsapp", name: "WA", config: { access_token: "tok" } });
  });
});
