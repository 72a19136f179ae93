import { afterEach, describe, expect, test, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { I18nProvider } from "../i18n";
import { Composer } from "../components/Composer";
import type { Customer, Message } from "../api";
import { conv, msg } from "./helpers";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

const customer: Customer = {
  id: "cu",
  workspace_id: "w",
  name: "Işık",
  email: "",
  phone: "+905321234567",
  attributes: {},
  identities: [{ id: "i1", kind: "whatsapp", value: "905321234567", normalized: "+905321234567", created_at: 1 }],
  created_at: 1,
  updated_at: 1,
};

function setup(reply: (body: Record<string, unknown>) => Response) {
  const calls: { url: string; method: string; body?: Record<string, unknown> }[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      const body = init?.body ? JSON.parse(String(init.body)) : undefined;
      calls.push({ url, method: init?.method ?? "GET", body });
      if (url === "/api/v1/inboxes") return json(200, { items: [{ id: "wa1", type: "whatsapp", name: "WA", config: {}, secrets_set: [], created_at: 1, updated_at: 1 }, { id: "api1", type: "api", name: "App", config: {}, secrets_set: [], created_at: 1, updated_at: 1 }] });
      if (url.endsWith("/messages")) return reply(body!);
      if (url.endsWith("/notes")) return json(201, msg("n1", { kind: "note", text: body!.text as string }));
      return json(404, { error: { code: "not_found", message: "nope" } });
    }),
  );
  const sent: Message[] = [];
  render(
    <QueryClientProvider client={new QueryClient()}>
      <I18nProvider locale="en">
        <Composer conversation={conv("c1", { last_channel: "whatsapp", last_inbox_id: "wa1" })} customer={customer} onSent={(m) => sent.push(m)} />
      </I18nProvider>
    </QueryClientProvider>,
  );
  return { calls, sent };
}

describe("composer", () => {
  test("the channel picker offers the customer's channels; a reply goes out on the picked one", async () => {
    const { calls, sent } = setup((b) => json(201, msg("m9", { direction: "out", text: b.text as string })));
    const picker = (await screen.findByTestId("channel-picker")) as HTMLSelectElement;
    await waitFor(() => expect([...picker.options].map((o) => o.value)).toEqual(["whatsapp", "api"]));
    fireEvent.change(picker, { target: { value: "api" } });
    fireEvent.change(screen.getByTestId("composer-text"), { target: { value: "Merhaba" } });
    fireEvent.click(screen.getByTestId("composer-send"));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(calls.find((c) => c.url.endsWith("/messages"))!.body).toEqual({ text: "Merhaba", channel: "api" });
  });

  test("409 reply_window_closed shows a banner offering a template, which is sent with its parameters", async () => {
    const { calls, sent } = setup((b) =>
      b.template
        ? json(201, msg("m10", { direction: "out", content_type: "template", text: "order_update" }))
        : json(409, { error: { code: "reply_window_closed", message: "the customer last wrote too long ago" } }),
    );
    await screen.findByTestId("channel-picker");
    fireEvent.change(screen.getByTestId("composer-text"), { target: { value: "Hello again" } });
    fireEvent.click(screen.getByTestId("composer-send"));
    const banner = await screen.findByTestId("window-closed");
    expect(banner.textContent).toContain("only an approved template");
    fireEvent.click(screen.getByRole("button", { name: "Send a template" }));
    fireEvent.change(screen.getByLabelText("Template name"), { target: { value: "order_update" } });
    fireEvent.change(screen.getByLabelText("Language"), { target: { value: "tr" } });
    fireEvent.change(screen.getByLabelText("Parameter 1"), { target: { value: "1042" } });
    fireEvent.click(screen.getByRole("button", { name: "Add parameter" }));
    fireEvent.change(screen.getByLabelText("Parameter 2"), { target: { value: "yarın" } });
    const sendButtons = screen.getAllByRole("button", { name: "Send a template" });
    fireEvent.click(sendButtons[sendButtons.length - 1]);
    await waitFor(() => expect(sent).toHaveLength(1));
    const posts = calls.filter((c) => c.url.endsWith("/messages"));
    expect(posts[1].body).toEqual({ template: { name: "order_update", language: "tr", params: ["1042", "yarın"] } });
    expect(screen.queryByTestId("window-closed")).toBeNull();
  });

  test("the note tab posts a private note", async () => {
    const { calls, sent } = setup(() => json(500, {}));
    fireEvent.click(await screen.findByTestId("tab-note"));
    fireEvent.change(screen.getByTestId("composer-text"), { target: { value: "Kargo aranacak" } });
    fireEvent.click(screen.getByTestId("composer-send"));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(calls.find((c) => c.url.endsWith("/notes"))!.body).toEqual({ text: "Kargo aranacak" });
  });
});
